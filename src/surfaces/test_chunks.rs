//! Canonical stream chunks for the tests of the surfaces that render them (Messages, Responses):
//! the renders read only the choices, so one shape serves both.

use crate::canonical::{ChatCompletionChunk, Delta, FunctionDelta, ToolCallDelta};

/// A chunk of one choice carrying `delta`, finishing it when `finish` is given.
pub(crate) fn chunk(delta: Delta, finish: Option<&str>) -> ChatCompletionChunk {
    ChatCompletionChunk::one_choice("c".into(), "m".into(), 1, delta, finish)
}

/// A delta of text.
pub(crate) fn text(t: &str) -> Delta {
    Delta {
        content: Some(t.into()),
        ..Delta::default()
    }
}

/// A delta of tool call `index`: its id and name on the first, a piece of the arguments on each.
pub(crate) fn call(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> Delta {
    Delta {
        tool_calls: Some(vec![ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            kind: id.map(|_| "function".to_owned()),
            function: Some(FunctionDelta {
                name: name.map(str::to_owned),
                arguments: Some(arguments.into()),
            }),
        }]),
        ..Delta::default()
    }
}
