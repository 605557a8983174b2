//! placeholder: the S3 artifact store is being written.
pub struct S3Store;
