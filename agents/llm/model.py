"""The `language_model` interface and its backends.

A backend turns chat messages (`[{"role": "system" | "user" | "assistant", "content": str}]`)
into a `Completion` (the text, token counts, seconds). Three backends:

- `OpenAIChat`: any OpenAI-compatible `POST {base_url}/chat/completions` endpoint (Ollama,
  vLLM, llama.cpp's server, hosted APIs), over the standard library's `urllib`; the API key is
  read from the environment variable the scenario names (`api_key_env`), never from the file.
- `LocalCausalLM`: a Hugging Face `transformers` causal LM loaded in this process from a local
  folder (`local_files_only`: nothing is downloaded); the `llm` extra installs transformers.
- `ScriptedText`: a Python text policy `messages -> text`, made by the factory the scenario
  names (`module:factory`, called with `scripted_params`). It is not a language model: it
  stands in for one in tests and in the benchmark of advice of controlled quality.

Failures (timeouts, refused connections, HTTP errors, malformed replies) raise
`LanguageModelError`; callers count them and fall back (testbed/agents/llm/calls.py).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from testbed.errors import BadInput

Messages = list[dict[str, str]]


class LanguageModelError(RuntimeError):
    """A call that produced no answer (timeout, connection, HTTP status, bad reply)."""


@dataclass(frozen=True)
class Sampling:
    """How a completion is sampled (part of the cache key)."""

    max_tokens: int = 16
    temperature: float = 0.0
    seed: int = 0


@dataclass
class Completion:
    """One answer and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class LanguageModel(Protocol):
    """What every backend offers: an identity for the cache, and `complete`."""

    kind: str
    """Backend name: "openai", "transformers" or "scripted"."""
    name: str
    """The model (name at the endpoint, folder, or function) as given."""

    def complete(self, messages: Messages, sampling: Sampling, timeout_s: float) -> Completion:
        """The model's answer to `messages`; raises LanguageModelError on failure."""
        ...


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would resend the API key to another host and turn the POST into a GET:
    it is an error instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} refused",
                                     headers, fp)  # fmt: skip


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


class OpenAIChat:
    """An OpenAI-compatible chat-completions endpoint, called with urllib."""

    kind = "openai"

    def __init__(self, base_url: str, model: str, api_key_env: str = ""):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ValueError("the openai backend needs `model` (the model name at the endpoint)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.name = model
        self.identity = f"{self.url} {model}"  # the cache's and rate limiter's key
        self.api_key_env = api_key_env
        if api_key_env and not os.environ.get(api_key_env):
            raise ValueError(f"environment variable {api_key_env!r} (api_key_env) is not set")

    def complete(self, messages: Messages, sampling: Sampling, timeout_s: float) -> Completion:
        body = {
            "model": self.name,
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "seed": sampling.seed,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            headers["Authorization"] = f"Bearer {os.environ.get(self.api_key_env, '')}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        started = time.perf_counter()
        try:
            with _NO_REDIRECTS.open(request, timeout=timeout_s) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise LanguageModelError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise LanguageModelError(f"{self.url}: no answer in {timeout_s} s") from None
            raise LanguageModelError(f"{self.url}: {reason}") from None
        latency = time.perf_counter() - started
        try:
            text = reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise LanguageModelError(f"{self.url}: reply has no choices[0].message") from None
        usage = reply.get("usage") or {}
        return Completion(
            str(text),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            latency,
        )


def folder_identity(path: Path) -> str:
    """The resolved folder and a digest of its files' names, sizes and modification times:
    new weights or a new tokenizer in the same folder make a new cache key."""
    import hashlib

    root = path.resolve()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(root)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return f"{root} {digest.hexdigest()[:16]}"


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ValueError(
            "the transformers backend needs the `transformers` package: pip install 'testbed[llm]'"
        ) from None
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return transformers


def chat_prompt(tokenizer: Any, messages: Messages) -> str:
    """The tokenizer's chat template applied to `messages`, or `role: content` lines."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


class LocalCausalLM:
    """A `transformers` causal LM from a local folder (config, weights, tokenizer), loaded on
    the first call. Greedy at temperature 0, else sampled with `seed` (torch's RNG forked, so
    the caller's random state is untouched). Long prompts keep their end. Generation in this
    process cannot be interrupted: one that took longer than the timeout counts as failed
    when it ends."""

    kind = "transformers"

    def __init__(self, folder: str):
        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise ValueError(
                f"no model folder at {folder!r} (it needs config.json, weights and a "
                "tokenizer); build the tiny demo model with `testbed llm tiny-model "
                f"{folder}` or point `model` at a Hugging Face model folder"
            )
        _transformers()
        self.path, self.name = path, folder
        self.identity = folder_identity(path)
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        tf = _transformers()
        self._tokenizer = tf.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self._model = tf.AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        self._model.eval()

    def complete(self, messages: Messages, sampling: Sampling, timeout_s: float) -> Completion:
        import torch  # the model's own library

        if self._model is None:
            self._load()
        tokenizer, model = self._tokenizer, self._model
        started = time.perf_counter()
        ids = tokenizer(chat_prompt(tokenizer, messages), return_tensors="pt")["input_ids"]
        limit = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        if limit and ids.shape[1] + sampling.max_tokens > limit:
            ids = ids[:, ids.shape[1] + sampling.max_tokens - limit :]
        pad = tokenizer.pad_token_id
        pad = tokenizer.eos_token_id if pad is None else pad
        options: dict[str, Any] = {"max_new_tokens": sampling.max_tokens, "pad_token_id": pad}
        if sampling.temperature > 0:
            options.update(do_sample=True, temperature=sampling.temperature, top_k=0)
        else:
            options.update(do_sample=False)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(sampling.seed)
            out = model.generate(ids, attention_mask=torch.ones_like(ids), **options)
        new = out[0, ids.shape[1] :]
        latency = time.perf_counter() - started
        if latency > timeout_s:
            raise LanguageModelError(f"{self.name}: generation took {latency:.1f} s > {timeout_s}")
        text = tokenizer.decode(new, skip_special_tokens=True)
        return Completion(text, int(ids.shape[1]), int(new.shape[0]), latency)


class ScriptedText:
    """A text policy `messages -> text` standing in for a language model (not one)."""

    kind = "scripted"

    def __init__(self, reference: str, params: dict[str, Any] | None = None):
        from testbed.registry import load_reference  # code the scenario names, like a predicate

        try:
            target = load_reference(reference)
        except BadInput as exc:  # reported where the agent is, by the registry
            raise ValueError(f"scripted model: {exc.message}") from None
        self.name = reference + (json.dumps(params, sort_keys=True) if params else "")
        try:
            self.policy: Callable[[Messages], str] = target(**(params or {}))
        except TypeError as exc:
            raise ValueError(f"{reference!r}(**scripted_params) failed: {exc}") from None
        if not callable(self.policy):
            raise ValueError(f"{reference!r}(**scripted_params) did not return a text policy")

    def complete(self, messages: Messages, sampling: Sampling, timeout_s: float) -> Completion:
        started = time.perf_counter()
        text = str(self.policy(messages))
        words = sum(len(m["content"].split()) for m in messages)
        return Completion(text, words, len(text.split()), time.perf_counter() - started)
