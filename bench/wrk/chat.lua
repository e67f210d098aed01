-- wrk script: a non-streaming chat completion POST, as an OpenAI SDK client sends it.
--
-- Body (one user message of 9 words, max_tokens 16, so the stand-in upstream reports
-- prompt_tokens 12 = 9 words + 3 per-message overhead, completion_tokens 16):
--   {"model": "gpt-4o-mini",
--    "messages": [{"role": "user", "content": "Say something short about API keys and their rotation"}],
--    "max_tokens": 16}
--
-- The bearer token defaults to the stand-in's sk-test-upstream; set WRK_API_KEY to target a
-- gateway with a keyplane key instead. Usage (stand-in upstream alone, 32 connections):
--   python -m keyplane.testing.upstream --port 9100 --api-key sk-test-upstream &
--   wrk -t2 -c32 -d10s -s bench/wrk/chat.lua http://127.0.0.1:9100/v1/chat/completions

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_API_KEY") or "sk-test-upstream")
wrk.body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", '
  .. '"content": "Say something short about API keys and their rotation"}], "max_tokens": 16}'

-- Print the non-2xx count so a broken run cannot pass for a fast one.
function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status))
end
