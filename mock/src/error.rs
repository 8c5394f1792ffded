//! A provider-neutral error; each wire format renders it in its own envelope.

/// An error to answer with; rendered by the provider module in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub status: u16,
    pub message: String,
    /// The offending request field, where the provider names one.
    pub param: Option<String>,
    /// Seconds for `Retry-After` (and Gemini's RetryInfo).
    pub retry_after: Option<u64>,
    /// OpenAI's machine-readable `code` (`invalid_value`, …), where it sends one.
    pub code: Option<String>,
}

impl WireError {
    pub fn new(status: u16, message: impl Into<String>) -> WireError {
        WireError {
            status,
            message: message.into(),
            param: None,
            retry_after: None,
            code: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> WireError {
        WireError::new(400, message)
    }

    pub fn with_param(mut self, param: impl Into<String>) -> WireError {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> WireError {
        self.code = Some(code.into());
        self
    }

    /// The error a `status=CODE` knob (or `fail_once`) asks for.
    pub fn injected(status: u16, retry_after: Option<u64>) -> WireError {
        let message = match status {
            429 => "Rate limit reached (injected by flint-mock)",
            529 => "Overloaded (injected by flint-mock)",
            s if s >= 500 => "The server had an error while processing your request (injected by flint-mock)",
            _ => "Request rejected (injected by flint-mock)",
        };
        WireError {
            status,
            message: message.to_string(),
            param: None,
            retry_after: if status == 429 {
                Some(retry_after.unwrap_or(1))
            } else {
                retry_after
            },
            code: None,
        }
    }
}
