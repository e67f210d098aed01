-- wrk script: a streaming chat completion POST (same body as chat.lua plus "stream": true).
--
-- The stand-in upstream answers with 16 content chunks and [DONE]; through keyplane the
-- gateway also asks for stream usage and strips that chunk again, as a real client sees it.
-- Usage:
--   WRK_API_KEY=kp_proj_... wrk -t1 -c32 -d10s -s bench/wrk/chat_stream.lua \
--     http://127.0.0.1:8080/v1/chat/completions

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_API_KEY") or "sk-test-upstream")
wrk.body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", '
  .. '"content": "Say something short about API keys and their rotation"}], "max_tokens": 16, '
  .. '"stream": true}'

function done(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status))
end
