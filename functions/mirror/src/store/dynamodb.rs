//! placeholder: the DynamoDB state store is being written.
pub struct DynamoStore;
