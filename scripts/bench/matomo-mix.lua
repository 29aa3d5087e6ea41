-- wrk script: a realistic mix of Matomo pageview requests from many distinct visitors.
-- Each wrk thread draws 20,000 visitors (an IPv4 or IPv6 address with a user agent and a language, fixed
-- per visitor, as behind a reverse proxy that sets X-Forwarded-For) and 2,000 request URLs shaped like
-- matomo.js's (page URL, title, referrer, resolution, local time, pv_id). Every request picks a visitor and
-- a URL at random. With TALLY_BENCH_RATE set (requests per second over TALLY_BENCH_THREADS threads), each
-- thread hands out send slots at that pace to its connections, an open-loop schedule that does not slow
-- down when the server does (up to one second of backlog), so latency is measured at a fixed rate.
-- With TALLY_BENCH_USER_AGENTS naming a file of user agents (one per line, most frequent first), the
-- visitors take those instead of the 20 below: the first visitors one each, so every one of them is
-- sent, the rest drawn Zipf-weighted by rank (weight 1/rank), as real traffic concentrates on a few.
-- Each thread's first requests go to those first visitors in turn, so every user agent of the mix is
-- sent early in a run (the edge caches detection per user agent; edge.sh's warm-up round fills it).
local user_agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
}
local languages = { "en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "ja-JP,ja;q=0.9", "es-ES,es;q=0.9", "nl-NL,nl;q=0.9" }
local referrers = {
  "", "", "", "https://www.google.com/", "https://www.google.de/", "https://www.bing.com/search?q=analytics",
  "https://duckduckgo.com/", "https://news.ycombinator.com/item?id=4242", "https://t.co/abc123",
  "https://www.reddit.com/r/selfhosted/comments/xyz/", "https://blog.example.org/links?ref=42",
}
local sections = { "blog", "docs", "pricing", "about", "products", "support", "news", "careers" }
local resolutions = { "1920x1080", "1366x768", "1536x864", "2560x1440", "390x844", "414x896", "360x800", "768x1024" }

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function random_ip()
  if math.random() < 0.2 then
    return string.format("2a00:%x:%x:%x::%x", math.random(0, 65535), math.random(0, 65535), math.random(0, 65535), math.random(1, 65535))
  end
  local a = math.random(1, 223)
  if a == 10 or a == 127 then a = 11 end
  return string.format("%d.%d.%d.%d", a, math.random(0, 255), math.random(0, 255), math.random(1, 254))
end

local visitors, paths = {}, {}

-- The user-agent file, and a draw by rank with weight 1/rank (binary search over the cumulative weights).
local mix, cumulative = nil, {}
local mix_file = os.getenv("TALLY_BENCH_USER_AGENTS")
if mix_file and mix_file ~= "" then
  mix = {}
  for line in io.lines(mix_file) do
    if line ~= "" then mix[#mix + 1] = line end
  end
  local total = 0
  for rank = 1, #mix do
    total = total + 1 / rank
    cumulative[rank] = total
  end
end

local function zipf_agent()
  local x = math.random() * cumulative[#cumulative]
  local lo, hi = 1, #cumulative
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cumulative[mid] < x then lo = mid + 1 else hi = mid end
  end
  return mix[lo]
end

local function agent_for(i)
  if not mix then return user_agents[math.random(#user_agents)] end
  if i <= #mix then return mix[i] end
  return zipf_agent()
end

function setup(thread) thread:set("seed", math.random(1, 2^30)) end

function init(args)
  math.randomseed((seed or 1) + os.time())
  for i = 1, 20000 do
    visitors[i] = {
      ip = random_ip(),
      ua = agent_for(i),
      lang = languages[math.random(#languages)],
      id = string.format("%08x%08x", math.random(0, 2^31), math.random(0, 2^31)),
    }
  end
  for i = 1, 2000 do
    local section = sections[math.random(#sections)]
    local page = string.format("https://example.com/%s/page-%d?utm_source=%s&sessionid=%d", section, math.random(1, 300),
      math.random() < 0.1 and "newsletter" or "", math.random(1, 1e6))
    local title = string.format("%s – page %d", section, i)
    paths[i] = string.format(
      "/matomo.php?action_name=%s&idsite=1&rec=1&r=%06d&h=%d&m=%d&s=%d&url=%s&urlref=%s&_idn=0&send_image=0&_refts=0&pv_id=%06x&pf_net=0&pf_srv=%d&res=%s&cookie=1",
      encode(title), math.random(0, 999999), math.random(0, 23), math.random(0, 59), math.random(0, 59), encode(page),
      encode(referrers[math.random(#referrers)]), math.random(0, 0xffffff), math.random(5, 200), resolutions[math.random(#resolutions)])
  end
end

local sent = 0

function request()
  sent = sent + 1
  local v = (mix and sent <= #mix) and visitors[sent] or visitors[math.random(#visitors)]
  return wrk.format("GET", paths[math.random(#paths)] .. "&_id=" .. v.id, {
    ["User-Agent"] = v.ua, ["X-Forwarded-For"] = v.ip, ["Accept-Language"] = v.lang,
  })
end

local rate = tonumber(os.getenv("TALLY_BENCH_RATE") or "")
if rate then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } tally_timespec;
    int clock_gettime(int clock, tally_timespec *now);
  ]]
  local now_spec = ffi.new("tally_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, now_spec) -- CLOCK_MONOTONIC
    return tonumber(now_spec.tv_sec) * 1000 + tonumber(now_spec.tv_nsec) / 1e6
  end
  local period = tonumber(os.getenv("TALLY_BENCH_THREADS") or "2") * 1000 / rate
  local next_slot = nil

  function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now - 1000 then next_slot = now end
    local wait = next_slot - now
    next_slot = next_slot + period
    return wait > 0 and wait or 0
  end
end
