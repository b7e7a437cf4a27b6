//! One module per resource; handlers stay thin: parse, call one use case, map the result.

pub mod health;
