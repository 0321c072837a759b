//! mlops-data's tests against moto (S3) and Azurite.
