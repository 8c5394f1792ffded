"""The official `openai` Python package against the running gateway (run by tests/sdk.rs).

Python's SDK asks for base64 embeddings by default and decodes them itself: the floats must be
the ones `encoding_format="float"` gives. Chat and a stream work unchanged, and a 402 raises the
SDK's own status error with the gateway's code.
"""

import os
import sys
import unittest

import openai

from chat_checks import check_chat_and_stream

BASE_URL = os.environ["FLINT_URL"] + "/v1"
KEY = os.environ["FLINT_API_KEY"]
BROKE_KEY = os.environ["FLINT_BROKE_KEY"]


class PythonSdk(unittest.TestCase):
    def setUp(self):
        self.client = openai.OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0)

    def test_default_base64_embeddings_decode_to_the_float_answer(self):
        for model in ["text-embedding-3-small", "gemini-embedding-001"]:
            texts = ["the quick brown fox", "Привет, мир"]
            default = self.client.embeddings.create(model=model, input=texts)
            floats = self.client.embeddings.create(model=model, input=texts, encoding_format="float")
            self.assertEqual(len(default.data), 2, model)
            for got, want in zip(default.data, floats.data):
                self.assertEqual(got.index, want.index)
                self.assertEqual(len(got.embedding), len(want.embedding), model)
                # base64 carries float32: the same numbers to float32 precision.
                for a, b in zip(got.embedding, want.embedding):
                    self.assertAlmostEqual(a, b, delta=1e-6 * max(1.0, abs(b)))
            self.assertGreater(default.usage.prompt_tokens, 0)

    def test_dimensions_shorten_the_vectors(self):
        answer = self.client.embeddings.create(
            model="text-embedding-3-small", input="shorter", dimensions=64
        )
        self.assertEqual(len(answer.data[0].embedding), 64)

    def test_chat_and_stream(self):
        usage = check_chat_and_stream(self, self.client, "python")
        self.assertIsNotNone(usage)

    def test_an_unfunded_key_raises_the_sdks_402(self):
        broke = openai.OpenAI(base_url=BASE_URL, api_key=BROKE_KEY, max_retries=0)
        with self.assertRaises(openai.APIStatusError) as raised:
            broke.embeddings.create(model="text-embedding-3-small", input="no money")
        self.assertEqual(raised.exception.status_code, 402)
        self.assertEqual(raised.exception.code, "insufficient_quota")

    def test_an_unknown_model_is_the_sdks_not_found(self):
        with self.assertRaises(openai.NotFoundError):
            self.client.embeddings.create(model="no-such-embedding", input="x")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
