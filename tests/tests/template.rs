//! Guards for the security properties of the deployable template, `infra/template.yaml`, so
//! that a later edit cannot weaken one without failing here: least-privilege roles (no
//! wildcard, no delete, objects only under `runners/` and `channels/`), a private, encrypted,
//! versioned, TLS-only bucket, a recoverable encrypted table, and the functions' shape.
//!
//! cfn-lint and checkov check the template against AWS's schemas and general rules
//! (`scripts/test.sh`); these tests check what runner-mirror in particular relies on.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

const TABLE: &str = "${StateTable.Arn}";
const BUCKET: &str = "${ArtifactBucket.Arn}";
const RUNNERS: &str = "${ArtifactBucket.Arn}/runners/*";
const CHANNELS: &str = "${ArtifactBucket.Arn}/channels/*";
const SSM: &str = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:";
const SECRETS: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:";

/// The template, with CloudFormation's short-form tags turned into their long form
/// (`!Ref X` into `{"Ref": "X"}`, `!GetAtt A.B` into `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s`
/// into `{"Fn::Sub": "s"}`, ...), so every check reads one form.
fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    long_form(yaml)
}

fn long_form(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!(i),
            (None, Some(f)) => json!(f),
            (None, None) => panic!("the template has a number JSON cannot hold: {n}"),
        },
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| match key {
                    Yaml::String(key) => (key, long_form(value)),
                    other => panic!("the template has a key that is not a string: {other:?}"),
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = long_form(tagged.value);
            match (name, value) {
                ("GetAtt", Value::String(path)) => {
                    let (resource, attribute) = path
                        .split_once('.')
                        .unwrap_or_else(|| panic!("!GetAtt {path} names no attribute"));
                    json!({"Fn::GetAtt": [resource, attribute]})
                }
                ("Ref" | "Condition", value) => json!({ name: value }),
                (_, value) => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    template["Resources"]
        .get(name)
        .unwrap_or_else(|| panic!("the template has no resource {name}"))
}

/// The resources of one type, by name.
fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

/// The only resource of `kind`, with its name.
fn the_one<'a>(template: &'a Value, kind: &str) -> (&'a str, &'a Value) {
    let found = resources_of_type(template, kind);
    assert_eq!(
        found.len(),
        1,
        "expected one {kind}, found {:?}",
        found.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    found[0]
}

/// The values `value` can take once deployed: both branches of an `Fn::If`, none for
/// `AWS::NoValue`, else itself.
fn branches(value: &Value) -> Vec<&Value> {
    if value == &json!({"Ref": "AWS::NoValue"}) {
        return vec![];
    }
    match value.get("Fn::If").and_then(Value::as_array) {
        Some(arguments) if arguments.len() == 3 => [&arguments[1], &arguments[2]]
            .into_iter()
            .flat_map(branches)
            .collect(),
        _ => vec![value],
    }
}

/// The texts an IAM field (an action, a resource) can take, comparable as strings: a literal
/// as written, `${X}` for a `Ref`, `${X.Arn}` for a `Fn::GetAtt`, a `Fn::Sub` pattern as
/// written, both branches of an `Fn::If`. Any other function panics rather than hiding a
/// value from the checks.
fn texts(value: &Value) -> Vec<String> {
    branches(value)
        .into_iter()
        .flat_map(|value| match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().flat_map(texts).collect(),
            Value::Object(o) if o.len() == 1 => match o.iter().next() {
                Some((f, Value::String(name))) if f == "Ref" => vec![format!("${{{name}}}")],
                Some((f, Value::String(pattern))) if f == "Fn::Sub" => vec![pattern.clone()],
                Some((f, Value::Array(path))) if f == "Fn::GetAtt" && path.len() == 2 => {
                    vec![format!(
                        "${{{}.{}}}",
                        path[0].as_str().unwrap(),
                        path[1].as_str().unwrap()
                    )]
                }
                _ => panic!("cannot read {value} as text; extend `texts` for it"),
            },
            _ => panic!("cannot read {value} as text; extend `texts` for it"),
        })
        .collect()
}

/// One IAM statement, read for the checks: where it is, and what it allows or denies.
#[derive(Debug)]
struct Statement {
    place: String,
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    /// `NotAction`, `NotResource` or `NotPrincipal`: an Allow with one grants everything
    /// except what it names.
    negations: Vec<String>,
}

impl Statement {
    fn read(place: &str, statement: &Value) -> Statement {
        let field = |name: &str| statement.get(name).map(texts).unwrap_or_default();
        Statement {
            place: match statement.get("Sid").and_then(Value::as_str) {
                Some(sid) => format!("{place} ({sid})"),
                None => place.to_owned(),
            },
            effect: statement["Effect"].as_str().unwrap_or_default().to_owned(),
            actions: field("Action"),
            resources: field("Resource"),
            negations: ["NotAction", "NotResource", "NotPrincipal"]
                .into_iter()
                .filter(|name| statement.get(*name).is_some())
                .map(str::to_owned)
                .collect(),
        }
    }

    fn allows(&self) -> bool {
        self.effect == "Allow"
    }
}

/// The statements of a policy document at `place`.
fn statements(place: &str, document: &Value) -> Vec<Statement> {
    let listed = match &document["Statement"] {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    listed
        .into_iter()
        .flat_map(branches)
        .map(|s| Statement::read(place, s))
        .collect()
}

/// The inline policies of an `AWS::IAM::Role`, each named `Role/PolicyName`.
fn role_statements(template: &Value, role: &str) -> Vec<Statement> {
    let properties = &resource(template, role)["Properties"];
    let policies = properties["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{role}: Policies is not a list"));
    policies
        .iter()
        .flat_map(branches)
        .flat_map(|policy| {
            let place = format!("{role}/{}", policy["PolicyName"].as_str().unwrap_or("?"));
            statements(&place, &policy["PolicyDocument"])
        })
        .collect()
}

/// Every statement of every IAM policy and bucket policy in the template.
fn all_statements(template: &Value) -> Vec<Statement> {
    let mut found = Vec::new();
    for (name, r) in template["Resources"].as_object().unwrap() {
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::Role" => found.extend(role_statements(template, name)),
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::S3::BucketPolicy" => {
                found.extend(statements(name, &r["Properties"]["PolicyDocument"]))
            }
            _ => {}
        }
    }
    found
}

/// What is wrong with a statement, if it allows: a wildcard action or resource, a delete, or
/// a `Not*` element. A Deny only narrows, so it is never wrong here.
fn problems(statement: &Statement) -> Vec<String> {
    if !statement.allows() {
        return vec![];
    }
    let place = &statement.place;
    let mut found = Vec::new();
    for action in &statement.actions {
        if action.contains('*') {
            found.push(format!("{place}: allows the wildcard action {action}"));
        }
        let operation = action.split_once(':').map_or(action.as_str(), |(_, op)| op);
        if operation.to_ascii_lowercase().starts_with("delete") {
            found.push(format!("{place}: allows the delete {action}"));
        }
    }
    for resource in &statement.resources {
        if resource == "*" {
            found.push(format!(
                "{place}: allows its actions on the wildcard resource *"
            ));
        }
    }
    for negation in &statement.negations {
        found.push(format!(
            "{place}: allows with {negation}, so everything else"
        ));
    }
    found
}

/// The (action, resource) pairs a role's statements allow.
fn grants(template: &Value, role: &str) -> BTreeSet<(String, String)> {
    role_statements(template, role)
        .iter()
        .filter(|s| s.allows())
        .flat_map(|s| {
            s.actions
                .iter()
                .flat_map(|a| s.resources.iter().map(|r| (a.clone(), r.clone())))
        })
        .collect()
}

fn assert_grants(
    template: &Value,
    role: &str,
    allowed: impl Fn(&str, &str) -> bool,
    needed: &[(&str, &str)],
) {
    let grants = grants(template, role);
    for (action, resource) in &grants {
        assert!(
            allowed(action, resource),
            "{role} allows {action} on {resource}, which it must not"
        );
    }
    // Also what the function cannot work without: an empty or renamed role would pass the
    // loop above without proving anything.
    for (action, resource) in needed {
        assert!(
            grants.contains(&(action.to_string(), resource.to_string())),
            "{role} does not allow {action} on {resource}"
        );
    }
}

#[test]
fn no_policy_allows_a_wildcard_a_delete_or_a_negation() {
    let template = template();
    let statements = all_statements(&template);
    assert!(
        statements.len() >= 10,
        "only {} policy statements found; is the template read right?",
        statements.len()
    );
    let found: Vec<String> = statements.iter().flat_map(problems).collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_policy_checker_flags_what_it_must() {
    let cases = [
        (
            json!({"Action": "s3:*", "Resource": RUNNERS}),
            "wildcard action s3:*",
        ),
        (
            json!({"Action": "s3:Get*", "Resource": RUNNERS}),
            "wildcard action s3:Get*",
        ),
        (
            json!({"Action": "dynamodb:*", "Resource": TABLE}),
            "wildcard action dynamodb:*",
        ),
        (
            json!({"Action": "s3:GetObject", "Resource": "*"}),
            "wildcard resource",
        ),
        (
            json!({"Action": ["dynamodb:GetItem", "dynamodb:DeleteItem"], "Resource": TABLE}),
            "the delete dynamodb:DeleteItem",
        ),
        (
            json!({"Action": "s3:DeleteObjectVersion", "Resource": RUNNERS}),
            "the delete s3:DeleteObjectVersion",
        ),
        (
            json!({"NotAction": "iam:PassRole", "Resource": TABLE}),
            "with NotAction",
        ),
        (
            json!({"Action": "s3:GetObject", "Resource": {"Fn::If": ["C", RUNNERS, "*"]}}),
            "wildcard resource",
        ),
    ];
    for (mut statement, expected) in cases {
        statement["Effect"] = json!("Allow");
        let found = problems(&Statement::read("sample", &statement));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{statement} should be flagged for {expected}, found {found:?}"
        );
        // The same statement as a Deny narrows access, which is never a problem.
        statement["Effect"] = json!("Deny");
        assert!(problems(&Statement::read("sample", &statement)).is_empty());
    }
    let fine = json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [RUNNERS]});
    assert!(problems(&Statement::read("sample", &fine)).is_empty());
}

#[test]
fn evaluate_reads_and_writes_the_table_and_writes_only_runners_and_channels() {
    let template = template();
    let object = |r: &str| r == RUNNERS || r == CHANNELS;
    assert_grants(
        &template,
        "EvaluateRole",
        |action, resource| match action {
            "logs:CreateLogStream" | "logs:PutLogEvents" => resource == "${EvaluateLogGroup.Arn}",
            "dynamodb:DescribeTable"
            | "dynamodb:GetItem"
            | "dynamodb:PutItem"
            | "dynamodb:Query"
            | "dynamodb:Scan" => resource == TABLE,
            // The bucket itself, for HeadBucket and 404s on missing keys; no object ARN.
            "s3:ListBucket" => resource == BUCKET,
            "s3:GetObject" | "s3:PutObject" | "s3:AbortMultipartUpload" => object(resource),
            // The one parameter or secret the stack was given, never a pattern of them.
            "ssm:GetParameter" => {
                resource == format!("{SSM}parameter${{GitHubTokenParameter}}")
                    || resource == format!("{SSM}parameter/${{GitHubTokenParameter}}")
            }
            "secretsmanager:GetSecretValue" => {
                resource == "${GitHubTokenSecret}"
                    || resource == format!("{SECRETS}secret:${{GitHubTokenSecret}}-??????")
            }
            _ => false,
        },
        &[
            ("dynamodb:PutItem", TABLE),
            ("s3:ListBucket", BUCKET),
            ("s3:GetObject", RUNNERS),
            ("s3:PutObject", RUNNERS),
            ("s3:PutObject", CHANNELS),
        ],
    );
}

#[test]
fn redirect_only_reads_the_table_and_gets_runners_and_channels() {
    let template = template();
    assert_grants(
        &template,
        "RedirectRole",
        |action, resource| match action {
            "logs:CreateLogStream" | "logs:PutLogEvents" => resource == "${RedirectLogGroup.Arn}",
            "dynamodb:GetItem" | "dynamodb:Query" | "dynamodb:Scan" => resource == TABLE,
            "s3:GetObject" => resource == RUNNERS || resource == CHANNELS,
            _ => false,
        },
        &[("dynamodb:GetItem", TABLE), ("s3:GetObject", RUNNERS)],
    );
}

#[test]
fn roles_trust_lambda_only_and_carry_no_managed_policies() {
    let template = template();
    let roles = resources_of_type(&template, "AWS::IAM::Role");
    assert_eq!(roles.len(), 2, "expected the two functions' roles");
    for (name, role) in roles {
        let properties = &role["Properties"];
        assert!(
            properties.get("ManagedPolicyArns").is_none(),
            "{name}.ManagedPolicyArns: managed policies escape these checks; write statements"
        );
        assert_eq!(
            properties["AssumeRolePolicyDocument"]["Statement"],
            json!([{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]),
            "{name}.AssumeRolePolicyDocument must let Lambda, and only Lambda, assume it"
        );
    }
}

#[test]
fn the_bucket_is_private_encrypted_versioned_and_cleans_up_uploads() {
    let template = template();
    let (name, bucket) = the_one(&template, "AWS::S3::Bucket");
    let properties = &bucket["Properties"];
    let block = &properties["PublicAccessBlockConfiguration"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            block[flag],
            json!(true),
            "{name}.PublicAccessBlockConfiguration.{flag} must be true"
        );
    }
    let algorithm = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        ["ServerSideEncryptionByDefault"]["SSEAlgorithm"];
    assert!(
        ["AES256", "aws:kms", "aws:kms:dsse"].contains(&algorithm.as_str().unwrap_or_default()),
        "{name}.BucketEncryption must set a default encryption, found {algorithm}"
    );
    assert_eq!(
        properties["VersioningConfiguration"]["Status"],
        json!("Enabled"),
        "{name}.VersioningConfiguration.Status"
    );
    let rules = properties["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}.LifecycleConfiguration.Rules is missing"));
    assert!(
        rules.iter().any(|rule| rule["Status"] == "Enabled"
            && rule.get("Prefix").is_none()
            && rule.get("Filter").is_none()
            && rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
                .as_i64()
                .is_some_and(|days| days <= 1)),
        "{name}.LifecycleConfiguration needs an enabled rule for the whole bucket that aborts \
         incomplete multipart uploads within 1 day"
    );
}

#[test]
fn the_bucket_policy_denies_requests_without_tls() {
    let template = template();
    let (bucket, _) = the_one(&template, "AWS::S3::Bucket");
    let (name, policy) = the_one(&template, "AWS::S3::BucketPolicy");
    let properties = &policy["Properties"];
    assert_eq!(
        properties["Bucket"],
        json!({"Ref": bucket}),
        "{name}.Bucket must be {bucket}"
    );
    let objects = format!("${{{bucket}.Arn}}/*");
    let whole_bucket = format!("${{{bucket}.Arn}}");
    let denies_plain_http = |s: &Value| {
        let secure_transport = &s["Condition"]["Bool"]["aws:SecureTransport"];
        s["Effect"] == "Deny"
            && s["Principal"] == "*"
            && texts(&s["Action"]).iter().any(|a| a == "s3:*")
            && texts(&s["Resource"]).contains(&whole_bucket)
            && texts(&s["Resource"]).contains(&objects)
            && (*secure_transport == "false" || *secure_transport == json!(false))
    };
    let statements = properties["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}.PolicyDocument.Statement is not a list"));
    assert!(
        statements.iter().any(denies_plain_http),
        "{name}.PolicyDocument needs a statement that denies s3:* on the bucket and its \
         objects to everyone when aws:SecureTransport is false"
    );
}

#[test]
fn the_table_is_on_demand_encrypted_and_recoverable() {
    let template = template();
    let (name, table) = the_one(&template, "AWS::DynamoDB::Table");
    let properties = &table["Properties"];
    assert_eq!(
        properties["BillingMode"],
        json!("PAY_PER_REQUEST"),
        "{name}.BillingMode"
    );
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        json!(true),
        "{name}.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled"
    );
    assert_eq!(
        properties["SSESpecification"]["SSEEnabled"],
        json!(true),
        "{name}.SSESpecification.SSEEnabled"
    );
    // The stores check this schema at start; any other fails every evaluation.
    assert_eq!(
        properties["KeySchema"],
        json!([
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ]),
        "{name}.KeySchema"
    );
}

#[test]
fn both_functions_are_arm64_on_al2023_with_their_own_roles() {
    let template = template();
    assert!(
        template.get("Globals").is_none(),
        "Globals: each function is configured in full on its resource, where these checks look"
    );
    let mut functions: Vec<&str> = ["AWS::Serverless::Function", "AWS::Lambda::Function"]
        .into_iter()
        .flat_map(|kind| resources_of_type(&template, kind))
        .map(|(name, _)| name)
        .collect();
    functions.sort();
    assert_eq!(functions, ["EvaluateFunction", "RedirectFunction"]);
    for (function, role) in [
        ("EvaluateFunction", "EvaluateRole"),
        ("RedirectFunction", "RedirectRole"),
    ] {
        let properties = &resource(&template, function)["Properties"];
        assert_eq!(
            properties["Runtime"],
            json!("provided.al2023"),
            "{function}.Runtime"
        );
        assert_eq!(
            properties["Architectures"],
            json!(["arm64"]),
            "{function}.Architectures"
        );
        assert_eq!(
            properties["Role"],
            json!({"Fn::GetAtt": [role, "Arn"]}),
            "{function}.Role must be {role}, whose statements these tests check"
        );
        assert!(
            properties.get("Policies").is_none(),
            "{function}.Policies: SAM policies escape these checks; add statements to {role}"
        );
    }
    assert_eq!(
        resource(&template, "EvaluateFunction")["Properties"]["ReservedConcurrentExecutions"],
        json!(1),
        "EvaluateFunction.ReservedConcurrentExecutions: one evaluation at a time"
    );
}

#[test]
fn the_function_url_has_no_cors_and_public_access_goes_through_it_only() {
    let template = template();
    let (name, url) = the_one(&template, "AWS::Lambda::Url");
    assert!(
        url["Properties"].get("Cors").is_none(),
        "{name}.Cors: runners follow redirects; no browser needs cross-origin access"
    );
    assert_eq!(
        url["Properties"]["TargetFunctionArn"],
        json!({"Fn::GetAtt": ["RedirectFunction", "Arn"]}),
        "{name}.TargetFunctionArn"
    );
    for (name, permission) in resources_of_type(&template, "AWS::Lambda::Permission") {
        let p = &permission["Properties"];
        if p["Principal"] != "*" {
            continue;
        }
        assert_eq!(
            p["FunctionName"],
            json!({"Ref": "RedirectFunction"}),
            "{name}.FunctionName: only redirect may be public"
        );
        let through_the_url = match p["Action"].as_str() {
            Some("lambda:InvokeFunctionUrl") => p["FunctionUrlAuthType"] == "NONE",
            Some("lambda:InvokeFunction") => p["InvokedViaFunctionUrl"] == json!(true),
            _ => false,
        };
        assert!(
            through_the_url,
            "{name} grants {} to everyone other than through the Function URL",
            p["Action"]
        );
    }
}

#[test]
fn every_checkov_skip_says_why() {
    let template = template();
    for (name, r) in template["Resources"].as_object().unwrap() {
        let Some(skips) = r.pointer("/Metadata/checkov/skip") else {
            continue;
        };
        for skip in skips.as_array().expect("checkov skips are a list") {
            let id = skip["id"].as_str().unwrap_or_default();
            assert!(
                id.starts_with("CKV"),
                "{name}.Metadata.checkov.skip: {skip} has no check id"
            );
            assert!(
                skip["comment"].as_str().is_some_and(|c| c.len() >= 20),
                "{name}.Metadata.checkov.skip {id}: say why it does not apply"
            );
        }
    }
}
