//! The provider-neutral core: what a chat request carries, and the deterministic answer to it.

use serde_json::{Map, Value};

use crate::knobs::{CacheTtl, Defaults, Knobs};

/// A tool the request declares.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    /// The JSON schema of the arguments (`parameters` / `input_schema` / `parameters`).
    pub schema: Value,
}

/// How the request lets the model use its tools.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Named(String),
}

/// Whether the request turned the model's reasoning on, which decides where the `reasoning`
/// knob applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningMode {
    /// The wire has no per-request switch the mock reads (OpenAI chat, Gemini, xAI,
    /// DeepSeek): reasoning tokens are the `reasoning` knob, 0 without it.
    #[default]
    Knob,
    /// The request turned reasoning off (Anthropic without `thinking`, Gemini
    /// `thinkingBudget: 0`): no reasoning, whatever the knob says.
    Off,
    /// The request asked for reasoning (Anthropic `thinking` enabled/adaptive, Responses
    /// `reasoning.effort` other than `none`): the knob, else [`DEFAULT_REASONING_TOKENS`].
    On,
}

/// The reasoning text every reasoning answer shows (Anthropic thinking, Responses summary,
/// DeepSeek `reasoning_content`, Gemini thought parts), in [`reasoning_chunks`].
pub const REASONING_TEXT: &str = "Mock thinking about the answer.";

/// Reasoning tokens when the request asks for reasoning and no `reasoning` knob says how
/// many: the words of [`REASONING_TEXT`].
pub const DEFAULT_REASONING_TOKENS: u64 = 5;

/// [`REASONING_TEXT`] in streaming chunks, one per word.
pub fn reasoning_chunks() -> Vec<String> {
    word_chunks(REASONING_TEXT)
}

/// What a chat request carries, whatever wire format it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    pub model: String,
    /// Every text the request carries, in order: system, each message's text parts, tool
    /// results. Token counting and `[[mock …]]` markers read these.
    pub texts: Vec<String>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    /// `Some` when the last message is a tool result: the text of each result in it.
    pub tool_results: Option<Vec<String>>,
    /// max_tokens / max_completion_tokens / generationConfig.maxOutputTokens.
    pub max_tokens: Option<u64>,
    /// The request asked for a JSON object answer.
    pub json_mode: bool,
    /// Stop sequences.
    pub stop: Vec<String>,
    pub stream: bool,
    /// Whether the request turned reasoning on or off.
    pub reasoning: ReasoningMode,
    /// The TTL the request's own `cache_control` asks for (Anthropic), for `cache_write`.
    pub cache_ttl: Option<CacheTtl>,
    /// How many messages / contents / input items the request carries (for `echo`).
    pub turns: u64,
    /// How many choices to generate (OpenAI's `n`; 0 or 1: one).
    pub choices: u64,
    /// The text of the last user message (for `echo`).
    pub last_user_text: String,
}

impl Conversation {
    /// Prompt tokens: whitespace-separated words across [`Conversation::texts`].
    pub fn prompt_tokens(&self) -> u64 {
        self.texts.iter().map(|t| count_words(t)).sum()
    }

    /// The knobs set by `[[mock …]]` markers in the request's texts.
    pub fn knobs(&self) -> Knobs {
        Knobs::from_texts(self.texts.iter().map(String::as_str))
    }
}

/// The number of whitespace-separated words in `text`: the mock's unit of "token".
pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// One tool call of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    /// The arguments object.
    pub arguments: Value,
    /// The arguments' JSON text in streaming fragments; their concatenation is the
    /// compact JSON of `arguments`.
    pub fragments: Vec<String>,
}

impl ToolCall {
    pub fn arguments_json(&self) -> String {
        self.fragments.concat()
    }
}

/// Why the answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Natural end.
    Stop,
    /// Stopped at the request's max tokens.
    Length,
    /// Stopped at this stop sequence (which is not part of the text).
    StopSequence(String),
    /// The answer is tool calls.
    ToolCalls,
}

/// The answer's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Text, in streaming chunks (one chunk = one completion token).
    Text(Vec<String>),
    ToolCalls(Vec<ToolCall>),
}

/// The deterministic answer to a request. Streamed and non-streamed forms carry the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub reply: Reply,
    pub finish: Finish,
    /// Every prompt token: the words of the request plus the cache knobs' tokens
    /// (`cache_read`, `cache_write*`), as OpenAI counts `prompt_tokens`.
    pub prompt_tokens: u64,
    /// Every generated token: the content chunks plus `reasoning_tokens`, as OpenAI counts
    /// `completion_tokens`.
    pub completion_tokens: u64,
    /// Prompt tokens read from the cache (part of `prompt_tokens`).
    pub cache_read: u64,
    /// Prompt tokens written to a 5-minute / 1-hour cache (parts of `prompt_tokens`).
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    /// Reasoning tokens (part of `completion_tokens`).
    pub reasoning_tokens: u64,
    /// The reasoning text, in chunks ([`reasoning_chunks`]); empty without reasoning.
    pub reasoning: Vec<String>,
    /// How many choices carry this reply (OpenAI's `n`): `completion_tokens` and
    /// `reasoning_tokens` count all of them, as OpenAI's usage does.
    pub choices: u64,
}

/// Token usage in one provider-neutral shape (the worker's `billing::usage::TokenUsage`
/// conventions): `input` includes the cache counts, `output` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Usage {
    pub fn cache_write(&self) -> u64 {
        self.cache_write_5m + self.cache_write_1h
    }

    /// Prompt tokens neither read from nor written to a cache (Anthropic's `input_tokens`).
    pub fn uncached_input(&self) -> u64 {
        self.input - self.cache_read - self.cache_write()
    }

    /// Generated tokens other than reasoning (Gemini's `candidatesTokenCount`, xAI's
    /// `completion_tokens`).
    pub fn visible_output(&self) -> u64 {
        self.output - self.reasoning
    }

    pub fn total(&self) -> u64 {
        self.input + self.output
    }
}

impl Answer {
    /// The usage every wire renders in its own shape.
    pub fn usage(&self) -> Usage {
        Usage {
            input: self.prompt_tokens,
            cache_read: self.cache_read,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
            output: self.completion_tokens,
            reasoning: self.reasoning_tokens,
        }
    }

    /// The full text (empty for tool calls).
    pub fn text(&self) -> String {
        match &self.reply {
            Reply::Text(chunks) => chunks.concat(),
            Reply::ToolCalls(_) => String::new(),
        }
    }

    /// How many content chunks (text chunks or argument fragments) a stream carries.
    pub fn content_chunks(&self) -> u64 {
        self.completion_tokens - self.reasoning_tokens
    }
}

/// Works out the answer to `conv`.
///
/// - tools declared, tool choice not `none`, last message not a tool result → tool calls
///   (`tools=N` marker: N calls);
/// - last message a tool result → `"Tool said: <results joined by a space>"`, one chunk per word;
/// - JSON mode → a JSON object `{"answer":"mock …"}` in N chunks;
/// - otherwise `"Mock answer ё→ 3 4 …"` in N chunks (N = `chunks` knob or default).
///
/// Text then stops at the first stop sequence, and at max tokens (unless `max_tokens_ignored`).
/// The cache knobs add prompt tokens and the reasoning knob adds generated tokens
/// ([`Answer::usage`]); neither changes the content.
pub fn plan(conv: &Conversation, knobs: &Knobs, defaults: &Defaults) -> Answer {
    let mut answer = plan_content(conv, knobs, defaults);
    let ttl = knobs.cache_ttl.or(conv.cache_ttl).unwrap_or_default();
    let (mut write_5m, mut write_1h) = (
        knobs.cache_write_5m.unwrap_or(0),
        knobs.cache_write_1h.unwrap_or(0),
    );
    match ttl {
        CacheTtl::FiveMinutes => write_5m += knobs.cache_write.unwrap_or(0),
        CacheTtl::OneHour => write_1h += knobs.cache_write.unwrap_or(0),
    }
    answer.cache_read = knobs.cache_read.unwrap_or(0);
    answer.cache_write_5m = write_5m;
    answer.cache_write_1h = write_1h;
    answer.prompt_tokens += answer.cache_read + write_5m + write_1h;
    answer.reasoning_tokens = match conv.reasoning {
        ReasoningMode::Off => 0,
        ReasoningMode::Knob => knobs.reasoning.unwrap_or(0),
        ReasoningMode::On => knobs.reasoning.unwrap_or(DEFAULT_REASONING_TOKENS),
    };
    if answer.reasoning_tokens > 0 {
        answer.reasoning = reasoning_chunks();
    }
    answer.completion_tokens += answer.reasoning_tokens;
    answer.choices = conv.choices.max(1);
    answer.completion_tokens *= answer.choices;
    answer.reasoning_tokens *= answer.choices;
    answer
}

fn plan_content(conv: &Conversation, knobs: &Knobs, defaults: &Defaults) -> Answer {
    let prompt_tokens = conv.prompt_tokens();
    let wants_tools = !conv.tools.is_empty()
        && conv.tool_choice != ToolChoice::None
        && conv.tool_results.is_none()
        && knobs.tools != Some(0);
    if wants_tools {
        let calls = tool_calls(conv, knobs.tools.unwrap_or(1));
        let completion_tokens = calls.iter().map(|c| c.fragments.len() as u64).sum();
        return Answer {
            reply: Reply::ToolCalls(calls),
            finish: Finish::ToolCalls,
            prompt_tokens,
            completion_tokens,
            ..Answer::empty()
        };
    }
    let n = knobs.chunks.unwrap_or(defaults.chunks);
    let mut chunks = match &conv.tool_results {
        Some(results) => word_chunks(&format!("Tool said: {}", results.join(" "))),
        None if knobs.echo => word_chunks(&echo_text(conv)),
        None if conv.json_mode => json_chunks(n),
        None => text_chunks(n),
    };
    let mut finish = Finish::Stop;
    if let Some(stop) = cut_at_stop_sequence(&mut chunks, &conv.stop) {
        finish = Finish::StopSequence(stop);
    }
    if let Some(max) = conv.max_tokens {
        if !knobs.max_tokens_ignored && (max as usize) < chunks.len() {
            chunks.truncate(max as usize);
            finish = Finish::Length;
        }
    }
    Answer {
        completion_tokens: chunks.len() as u64,
        reply: Reply::Text(chunks),
        finish,
        prompt_tokens,
        ..Answer::empty()
    }
}

impl Answer {
    fn empty() -> Answer {
        Answer {
            reply: Reply::Text(Vec::new()),
            finish: Finish::Stop,
            prompt_tokens: 0,
            completion_tokens: 0,
            cache_read: 0,
            cache_write_5m: 0,
            cache_write_1h: 0,
            reasoning_tokens: 0,
            reasoning: Vec::new(),
            choices: 1,
        }
    }
}

/// The `echo` answer: `Heard <turns> turns: <last user text>`, so a test can tell the
/// history and the last turn reached the upstream.
pub fn echo_text(conv: &Conversation) -> String {
    format!("Heard {} turns: {}", conv.turns, conv.last_user_text.trim())
}

/// The default answer: `"Mock"`, `" answer"`, `" ё→"`, `" 3"`, `" 4"`, … — `n` chunks.
pub fn text_chunks(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| match i {
            0 => "Mock".to_string(),
            1 => " answer".to_string(),
            2 => " ё→".to_string(),
            i => format!(" {i}"),
        })
        .collect()
}

/// The JSON-mode answer: `{"answer":"mock ё 3 …"}` split into `n` chunks.
pub fn json_chunks(n: u64) -> Vec<String> {
    match n {
        0 => Vec::new(),
        1 => vec![r#"{"answer":"mock"}"#.to_string()],
        2 => vec![r#"{"answer":"mock"#.to_string(), r#""}"#.to_string()],
        n => {
            let mut out = vec![r#"{"answer":""#.to_string()];
            for j in 0..n - 2 {
                out.push(match j {
                    0 => "mock".to_string(),
                    1 => " ё".to_string(),
                    j => format!(" {}", j + 1),
                });
            }
            out.push(r#""}"#.to_string());
            out
        }
    }
}

/// Splits text into one chunk per word, each word carrying the whitespace before it.
pub fn word_chunks(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut has_word = false;
    let mut prev_space = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        if !space && prev_space && has_word {
            out.push(std::mem::take(&mut current));
            has_word = false;
        }
        if !space {
            has_word = true;
        }
        current.push(c);
        prev_space = space;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Cuts the chunks before the earliest stop sequence; returns the sequence that matched.
fn cut_at_stop_sequence(chunks: &mut Vec<String>, stops: &[String]) -> Option<String> {
    let full = chunks.concat();
    let (pos, stop) = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| full.find(s.as_str()).map(|p| (p, s)))
        .min_by_key(|(p, _)| *p)?;
    let mut kept = Vec::new();
    let mut offset = 0;
    for chunk in chunks.drain(..) {
        if offset + chunk.len() <= pos {
            offset += chunk.len();
            kept.push(chunk);
            continue;
        }
        let head = &chunk[..pos - offset];
        if !head.is_empty() {
            kept.push(head.to_string());
        }
        break;
    }
    *chunks = kept;
    Some(stop.clone())
}

/// The calls an answer makes: the chosen tool first (the named one, else the first
/// declared), then the other declared tools in order, repeating when `count` exceeds them.
fn tool_calls(conv: &Conversation, count: u64) -> Vec<ToolCall> {
    let chosen = match &conv.tool_choice {
        ToolChoice::Named(name) => conv.tools.iter().position(|t| &t.name == name),
        _ => None,
    };
    let mut order: Vec<ToolSpec> = Vec::new();
    match (chosen, &conv.tool_choice) {
        (Some(i), _) => order.push(conv.tools[i].clone()),
        (None, ToolChoice::Named(name)) => order.push(ToolSpec {
            name: name.clone(),
            schema: Value::Object(Map::new()),
        }),
        _ => {}
    }
    for (i, tool) in conv.tools.iter().enumerate() {
        if Some(i) != chosen {
            order.push(tool.clone());
        }
    }
    let count = count.clamp(1, 16) as usize;
    (0..count)
        .filter_map(|i| order.get(i % order.len().max(1)))
        .map(|tool| {
            let (arguments, fragments) = mock_arguments(&tool.schema);
            ToolCall {
                name: tool.name.clone(),
                arguments,
                fragments,
            }
        })
        .collect()
}

/// Arguments for a tool: each `required` property of the schema set to a mock value
/// (`"mock-<prop>"` for strings, 1 for numbers, true for booleans, the first `enum` value
/// when there is one). Fragments: `{`, one per property, `}`.
pub fn mock_arguments(schema: &Value) -> (Value, Vec<String>) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = schema.get("properties");
    let mut object = Map::new();
    let mut fragments = vec!["{".to_string()];
    for (i, name) in required.iter().enumerate() {
        let prop = props.and_then(|p| p.get(*name)).cloned().unwrap_or(Value::Null);
        let value = mock_value(name, &prop);
        let key = Value::String((*name).to_string()).to_string();
        let sep = if i == 0 { "" } else { "," };
        fragments.push(format!("{sep}{key}:{value}"));
        object.insert((*name).to_string(), value);
    }
    fragments.push("}".to_string());
    (Value::Object(object), fragments)
}

fn mock_value(name: &str, prop: &Value) -> Value {
    if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match prop.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_ascii_lowercase(),
        _ => "string".to_string(),
    };
    match ty.as_str() {
        "integer" | "number" => Value::from(1),
        "boolean" => Value::Bool(true),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(Map::new()),
        "null" => Value::Null,
        _ => Value::String(format!("mock-{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(texts: &[&str]) -> Conversation {
        Conversation {
            texts: texts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn default_text_is_eight_chunks_with_non_ascii() {
        let a = plan(&conv(&["hello there"]), &Knobs::default(), &Defaults::default());
        assert_eq!(a.text(), "Mock answer ё→ 3 4 5 6 7");
        assert_eq!(a.completion_tokens, 8);
        assert_eq!(a.prompt_tokens, 2);
        assert_eq!(a.finish, Finish::Stop);
    }

    #[test]
    fn json_chunks_always_parse() {
        for n in 1..12 {
            let text = json_chunks(n).concat();
            assert_eq!(json_chunks(n).len() as u64, n);
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(v["answer"].is_string(), "{text}");
        }
        assert!(json_chunks(0).is_empty());
    }

    #[test]
    fn max_tokens_stops_early_unless_ignored() {
        let mut c = conv(&["hi"]);
        c.max_tokens = Some(3);
        let a = plan(&c, &Knobs::default(), &Defaults::default());
        assert_eq!((a.completion_tokens, a.finish.clone()), (3, Finish::Length));
        let k = Knobs {
            max_tokens_ignored: true,
            ..Default::default()
        };
        assert_eq!(plan(&c, &k, &Defaults::default()).completion_tokens, 8);
    }

    #[test]
    fn stop_sequences_cut_the_text() {
        let mut c = conv(&["hi"]);
        c.stop = vec!["zzz".into(), " 4".into(), "5".into()];
        let a = plan(&c, &Knobs::default(), &Defaults::default());
        assert_eq!(a.text(), "Mock answer ё→ 3");
        assert_eq!(a.finish, Finish::StopSequence(" 4".into()));
        assert_eq!(a.completion_tokens, 4);
    }

    #[test]
    fn word_chunks_keep_every_character() {
        let text = "Tool said:  22°C,\n sunny ";
        let chunks = word_chunks(text);
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunks.len(), 4);
        assert_eq!(word_chunks("Tool said: ").len(), 2);
    }

    #[test]
    fn tool_answers_fill_required_arguments() {
        let mut c = conv(&["weather?"]);
        c.tools = vec![ToolSpec {
            name: "get_weather".into(),
            schema: json!({"type":"object","properties":{
                "city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"},
                "unit":{"type":"string","enum":["c","f"]},"note":{"type":"string"}},
                "required":["city","days","metric","unit"]}),
        }];
        let a = plan(&c, &Knobs::default(), &Defaults::default());
        let Reply::ToolCalls(calls) = &a.reply else {
            panic!("expected tool calls")
        };
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].arguments,
            json!({"city":"mock-city","days":1,"metric":true,"unit":"c"})
        );
        let parsed: Value = serde_json::from_str(&calls[0].arguments_json()).unwrap();
        assert_eq!(parsed, calls[0].arguments);
        assert_eq!(a.completion_tokens, 6);
        assert_eq!(a.finish, Finish::ToolCalls);
    }

    #[test]
    fn tools_two_calls_the_first_two_or_the_first_twice() {
        let tool = |n: &str| ToolSpec {
            name: n.into(),
            schema: json!({}),
        };
        let mut c = conv(&["x"]);
        c.tools = vec![tool("a")];
        let k = Knobs {
            tools: Some(2),
            ..Default::default()
        };
        let names = |a: Answer| match a.reply {
            Reply::ToolCalls(calls) => calls.into_iter().map(|c| c.name).collect::<Vec<_>>(),
            Reply::Text(_) => vec![],
        };
        assert_eq!(names(plan(&c, &k, &Defaults::default())), ["a", "a"]);
        c.tools.push(tool("b"));
        c.tool_choice = ToolChoice::Named("b".into());
        assert_eq!(names(plan(&c, &k, &Defaults::default())), ["b", "a"]);
        c.tool_choice = ToolChoice::None;
        assert!(names(plan(&c, &k, &Defaults::default())).is_empty());
    }

    #[test]
    fn cache_knobs_add_prompt_tokens_and_reasoning_adds_output() {
        let k = Knobs::from_texts(["[[mock cache_read=800 cache_write=200 reasoning=50]]"]);
        let a = plan(&conv(&["two words"]), &k, &Defaults::default());
        let u = a.usage();
        assert_eq!(u.input, 2 + 800 + 200);
        assert_eq!((u.cache_read, u.cache_write_5m, u.cache_write_1h), (800, 200, 0));
        assert_eq!(u.uncached_input(), 2);
        assert_eq!((u.output, u.reasoning, u.visible_output()), (58, 50, 8));
        assert_eq!(a.content_chunks(), 8);
        assert_eq!(a.reasoning, reasoning_chunks());
        let mut c = conv(&["x"]);
        c.cache_ttl = Some(CacheTtl::OneHour);
        let a = plan(
            &c,
            &Knobs::from_texts(["[[mock cache_write=9 cache_write_5m=1]]"]),
            &Defaults::default(),
        );
        assert_eq!((a.cache_write_5m, a.cache_write_1h), (1, 9));
    }

    #[test]
    fn reasoning_follows_the_requests_switch() {
        let mut c = conv(&["x"]);
        let none = Knobs::default();
        assert_eq!(plan(&c, &none, &Defaults::default()).reasoning_tokens, 0);
        c.reasoning = ReasoningMode::On;
        let a = plan(&c, &none, &Defaults::default());
        assert_eq!(a.reasoning_tokens, DEFAULT_REASONING_TOKENS);
        assert_eq!(count_words(&a.reasoning.concat()), DEFAULT_REASONING_TOKENS);
        c.reasoning = ReasoningMode::Off;
        let k = Knobs::from_texts(["[[mock reasoning=9]]"]);
        assert_eq!(plan(&c, &k, &Defaults::default()).reasoning_tokens, 0);
        assert!(plan(&c, &k, &Defaults::default()).reasoning.is_empty());
    }

    #[test]
    fn echo_repeats_the_turns_and_the_last_user_text() {
        let mut c = conv(&["first", "again [[mock echo]]"]);
        c.turns = 3;
        c.last_user_text = "again [[mock echo]]".into();
        let a = plan(&c, &c.knobs(), &Defaults::default());
        assert_eq!(a.text(), "Heard 3 turns: again [[mock echo]]");
        assert_eq!(a.completion_tokens, 6);
    }

    #[test]
    fn a_tool_result_is_echoed() {
        let mut c = conv(&["weather?", "22C sunny"]);
        c.tools = vec![ToolSpec {
            name: "w".into(),
            schema: json!({}),
        }];
        c.tool_results = Some(vec!["22C sunny".into()]);
        let a = plan(&c, &Knobs::default(), &Defaults::default());
        assert_eq!(a.text(), "Tool said: 22C sunny");
        assert_eq!(a.completion_tokens, 4);
        assert_eq!(a.prompt_tokens, 3);
    }
}
