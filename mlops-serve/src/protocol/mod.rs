//! The Open Inference Protocol wire format: request decoding (JSON and the binary tensor data
//! extension) and response encoding.

pub(crate) mod common_request;
pub(crate) mod common_response;
pub(crate) mod elements;
pub(crate) mod request;
pub(crate) mod response;

#[cfg(test)]
mod tests;
