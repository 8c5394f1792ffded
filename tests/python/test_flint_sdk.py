"""`flint-ai` (sdk/python, module `flint`) against the running gateway (run by tests/sdk_flint.rs).

The package is installed editable into `.venv-sdk` by scripts/setup.sh.
"""

import asyncio
import contextlib
import io
import os
import sys
import unittest
from unittest import mock

import openai

import flint
from chat_checks import check_chat_and_stream
from flint import AsyncFlint, Flint, InsufficientBalanceError

BASE = os.environ["FLINT_BASE_URL"]
KEY = os.environ["FLINT_API_KEY"]
SCOPED_KEY = os.environ["FLINT_SCOPED_KEY"]
BROKE_KEY = os.environ["FLINT_BROKE_KEY"]
EMAIL = os.environ["FLINT_USER_EMAIL"]


class Configuration(unittest.TestCase):
    def test_flint_is_the_openai_client_configured_from_the_environment(self):
        client = Flint()
        self.assertIsInstance(client, openai.OpenAI)
        self.assertEqual(client.api_key, KEY)
        self.assertEqual(str(client.base_url), BASE + "/v1/")
        self.assertEqual(client.flint_origin, BASE)
        for base_url in [BASE, BASE + "/", BASE + "/v1", BASE + "/v1/"]:
            self.assertEqual(Flint(api_key="k", base_url=base_url).flint_origin, BASE, base_url)
        with mock.patch.dict(os.environ, {"FLINT_BASE_URL": BASE + "/v1"}):
            self.assertEqual(Flint().flint_origin, BASE)

    def test_the_defaults_are_flints_not_openais(self):
        env = {k: v for k, v in os.environ.items() if k not in ("FLINT_BASE_URL", "FLINT_API_KEY")}
        env["OPENAI_BASE_URL"] = "http://elsewhere.invalid/v1"
        env["OPENAI_API_KEY"] = "sk-openai"
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(flint.DEFAULT_BASE_URL, "http://127.0.0.1:8787")
            self.assertEqual(str(Flint(api_key="k").base_url), "http://127.0.0.1:8787/v1/")
            self.assertEqual(str(AsyncFlint(api_key="k").base_url), "http://127.0.0.1:8787/v1/")
            with self.assertRaisesRegex(openai.OpenAIError, "FLINT_API_KEY"):
                Flint()
            with self.assertRaisesRegex(openai.OpenAIError, "FLINT_API_KEY"):
                AsyncFlint()

    def test_with_options_keeps_the_class_and_the_gateway(self):
        copy = Flint(max_retries=0).with_options(timeout=5)
        self.assertIsInstance(copy, Flint)
        self.assertEqual(copy.flint_origin, BASE)
        self.assertEqual(copy.account.me()["user"]["email"], EMAIL)

    def test_insufficient_balance_error_subclasses_the_sdks_status_error(self):
        self.assertTrue(issubclass(InsufficientBalanceError, openai.APIStatusError))


class Gateway(unittest.TestCase):
    def setUp(self):
        self.client = Flint(max_retries=0)

    def test_chat_stream_embeddings_and_models_work_unchanged(self):
        usage = check_chat_and_stream(self, self.client, "flint-ai")
        self.assertGreater(usage.completion_tokens, 0)
        embedded = self.client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        self.assertEqual(len(embedded.data), 2)
        self.assertGreater(len(embedded.data[0].embedding), 0)
        self.assertEqual(self.client.models.retrieve("gpt-4o-mini").id, "gpt-4o-mini")

    def test_account_me(self):
        me = self.client.account.me()
        self.assertEqual(me["user"]["email"], EMAIL)
        self.assertGreater(me["user"]["balance_usd"], 4)
        self.assertLessEqual(me["user"]["balance_usd"], 5)
        self.assertIsInstance(me["usage"]["requestsToday"], int)
        self.assertIsInstance(me["limits"]["rpm"], int)

    def test_billing_history_pages_with_limit_and_cursor(self):
        everything = self.client.billing.history()
        self.assertTrue(any(e["amount_usd"] == 5 for e in everything["entries"]), everything)
        first = self.client.billing.history(limit=1)
        self.assertEqual(len(first["entries"]), 1)
        self.assertEqual(first["entries"][0]["id"], everything["entries"][0]["id"])
        if len(everything["entries"]) > 1:
            second = self.client.billing.history(limit=1, cursor=first["next_cursor"])
            self.assertEqual(second["entries"][0]["id"], everything["entries"][1]["id"])

    def test_billing_topup_and_payment(self):
        topup = self.client.billing.topup(amount_usd=10)
        self.assertRegex(topup["confirmation_url"], r"^https?://")
        self.assertEqual(topup["amount_usd"], 10)
        payment = self.client.billing.payment(topup["payment_id"])
        self.assertEqual(payment["payment_id"], topup["payment_id"])
        self.assertEqual(payment["status"], "pending")
        plan = self.client.billing.topup(plan="pro_plus")
        self.assertEqual(plan["plan"], "pro_plus")
        with self.assertRaises(TypeError):
            self.client.billing.topup()
        with self.assertRaises(TypeError):
            self.client.billing.topup(amount_rub=990, amount_usd=10)

    def test_api_errors_become_the_sdks_classes_with_stones_code(self):
        scoped = Flint(api_key=SCOPED_KEY, max_retries=0)
        with self.assertRaises(openai.PermissionDeniedError) as raised:
            scoped.billing.history()
        self.assertEqual(raised.exception.status_code, 403)
        self.assertEqual(raised.exception.code, "permission_denied")
        self.assertTrue(raised.exception.body["message"])
        self.assertIn(raised.exception.body["message"], str(raised.exception))
        with self.assertRaises(openai.BadRequestError) as raised:
            self.client.billing.topup(amount_rub=-5)
        self.assertTrue(raised.exception.code)

    def test_catalog_list_filters(self):
        everything = self.client.catalog.list()
        self.assertGreater(len(everything), 10)
        some = self.client.catalog.list(tier="lite", company="OpenAI", category="chat")
        self.assertTrue(0 < len(some) < len(everything))
        for model in some:
            self.assertEqual(model["tier"], "lite")
            self.assertEqual(model["company"].lower(), "openai")
            self.assertEqual(model["category"], "chat")
        self.assertEqual(self.client.catalog.list(company="no-such-company"), [])

    def test_a_402_raises_insufficient_balance_on_v1_and_on_api(self):
        broke = Flint(api_key=BROKE_KEY, max_retries=0)
        with self.assertRaises(InsufficientBalanceError) as raised:
            broke.embeddings.create(model="text-embedding-3-small", input="no money")
        self.assertEqual(raised.exception.status_code, 402)
        self.assertEqual(raised.exception.code, "insufficient_quota")
        self.assertTrue(raised.exception.request_id)
        # Stone's envelope: /api/chat through the client's own request methods.
        with self.assertRaises(InsufficientBalanceError) as raised:
            broke.post(
                BASE + "/api/chat",
                body={"model_id": "gpt-4o", "messages": [{"role": "user", "content": "no money"}]},
                cast_to=object,
            )
        self.assertEqual(raised.exception.status_code, 402)
        self.assertEqual(raised.exception.code, "insufficient_quota")
        self.assertIn("Insufficient balance", str(raised.exception))


class Async(unittest.TestCase):
    def test_async_flint_does_the_same(self):
        async def main():
            async with AsyncFlint(max_retries=0) as client:
                self.assertIsInstance(client, openai.AsyncOpenAI)
                answer = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hello async"}]
                )
                self.assertTrue(answer.choices[0].message.content)
                me = await client.account.me()
                self.assertEqual(me["user"]["email"], EMAIL)
                history = await client.billing.history(limit=1)
                self.assertEqual(len(history["entries"]), 1)
                topup = await client.billing.topup(amount_rub=990)
                self.assertRegex(topup["confirmation_url"], r"^https?://")
                self.assertEqual((await client.billing.payment(topup["payment_id"]))["status"], "pending")
                models = await client.catalog.list(category="embedding")
                self.assertTrue(models)
                self.assertTrue(all(m["category"] == "embedding" for m in models))
            async with AsyncFlint(api_key=BROKE_KEY, max_retries=0) as broke:
                with self.assertRaises(InsufficientBalanceError):
                    await broke.embeddings.create(model="text-embedding-3-small", input="x")

        asyncio.run(main())


class TechStoneDropIn(unittest.TestCase):
    """TechStone's Python examples with `from flint import Flint as TechStoneAI`."""

    def test_switch_from_openai(self):
        env = {"TECHSTONE_API_KEY": KEY, "API_BASE_URL": BASE}
        with mock.patch.dict(os.environ, env):
            from flint import Flint as TechStoneAI  # Drop-in replacement!
            import os as os_  # noqa: F401 (the example's `import os`)

            # Just change the client initialization
            client = TechStoneAI(
                api_key=os.environ.get("TECHSTONE_API_KEY"),
                base_url=os.environ.get("API_BASE_URL"),  # Set in your environment
            )

            # Everything else works exactly the same
            response = client.chat.completions.create(
                model="gpt-4o",  # Same model names
                messages=[{"role": "user", "content": "Hello!"}],
            )
        self.assertTrue(response.choices[0].message.content)

    def test_streaming(self):
        from flint import Flint as TechStoneAI

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            client = TechStoneAI(api_key=KEY)

            stream = client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "Write a poem about AI"}],
                stream=True,
            )

            for chunk in stream:
                content = chunk.choices[0].delta.content
                if content:
                    print(content, end="", flush=True)
            print()  # Newline after streaming completes
        self.assertGreater(len(out.getvalue().strip()), 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
