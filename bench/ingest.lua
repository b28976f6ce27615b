-- wrk script for bench/ingest.py: Telegram updates (~700 bytes, Cyrillic text) with a fresh
-- update_id per request, or with DUP_RATE of them repeating an id this thread already sent.
-- Each thread counts the distinct ids it sent; done() prints one JSON line for the driver.
local threads = {}
local next_thread = 0

-- PORTS="8081,8082,8083" spreads the threads over several gateways on 127.0.0.1, thread i to
-- port i mod n, as a load balancer without sticky sessions would (bench/ingest_pg.py).
local ports = {}
for port in string.gmatch(os.getenv("PORTS") or "", "%d+") do table.insert(ports, port) end

function setup(thread)
  thread:set("tid", next_thread)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[(next_thread % #ports) + 1])[1]
  end
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local secret = os.getenv("WEBHOOK_SECRET") or "bench-secret_0123"
local dup_rate = tonumber(os.getenv("DUP_RATE") or "0")
local base = tonumber(os.getenv("ID_BASE") or "1000000")
counter = 0
unique = 0
local padding = string.rep("Здравствуйте! Хотел бы уточнить детали бронирования номера на выходные. ", 4)

function init(args)
  math.randomseed(tid * 7919 + base)
end

function request()
  local id
  if unique > 0 and math.random() < dup_rate then
    id = base + tid * 100000000 + math.random(1, unique)
  else
    unique = unique + 1
    id = base + tid * 100000000 + unique
  end
  counter = counter + 1
  local chat = 10000 + (id % 5000)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1763633100,"text":"%s №%d",' ..
    '"from":{"id":%d,"is_bot":false,"first_name":"Анна","last_name":"Петрова","language_code":"ru"},' ..
    '"chat":{"id":%d,"type":"private","first_name":"Анна","last_name":"Петрова"}}}',
    id, id, padding, id, chat, chat)
  return wrk.format("POST", "/webhooks/tg", {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = secret,
  }, body)
end

function done(summary, latency, requests)
  local distinct = 0
  for _, thread in ipairs(threads) do distinct = distinct + thread:get("unique") end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"distinct_ids":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), distinct))
end
