-- wrk script of bench.ingest: POSTs Telegram updates, each with its own update_id (the same id twice
-- would be a cheap duplicate), over many chats; counts statuses and prints one RESULT line of JSON.
-- Arguments after `--`: body template (%d update_id, %d chat id), first update_id, conversations,
-- webhook secret, wrk threads.

local threads, created = {}, 0

function setup(thread)
  thread:set("index", created)  -- thread i sends ids first + i, first + i + threads, ...
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  template, first, chats, stride = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[5])
  headers = {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = args[4]}
  sent, ok, other = 0, 0, 0
end

function request()
  local id = first + sent * stride + index
  sent = sent + 1
  return wrk.format("POST", nil, headers, string.format(template, id, 1 + id % chats))
end

function response(status)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency)
  local total = {sent = 0, ok = 0, other = 0}
  for _, thread in ipairs(threads) do
    for name in pairs(total) do total[name] = total[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format('RESULT {"sent": %d, "ok": %d, "other": %d, "errors": %d, "seconds": %.3f, ' ..
                         '"p50_ms": %.3f, "p99_ms": %.3f}\n', total.sent, total.ok, total.other,
                         e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
                         latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
