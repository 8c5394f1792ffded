"""The chat checks both Python suites make of an OpenAI-shaped client (`openai.OpenAI` or flint-ai's
`Flint`): the same calls must work unchanged through either."""


def check_chat_and_stream(test, client, tag):
    """A whole answer from gpt-4o-mini and a stream from claude-haiku-4.5 through `client`, each
    with text; the stream's usage, for the caller's own checks."""
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello from {tag}"}]
    )
    test.assertTrue(answer.choices[0].message.content)
    test.assertGreater(answer.usage.total_tokens, 0)
    chunks = client.chat.completions.create(
        model="claude-haiku-4.5",
        messages=[{"role": "user", "content": f"stream from {tag}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in chunks:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    test.assertTrue(text)
    return usage
