//! Webhook intake: a delivery is stored, then answered, then processed by a job.
