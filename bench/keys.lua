-- wrk: every request with the next of the keys in $BENCH_KEYS (one a line),
-- each thread starting at its own place.
local keys, n, i = {}, 0, 0

for line in io.lines(os.getenv("BENCH_KEYS")) do
    n = n + 1
    keys[n] = line
end

function setup(thread)
    thread:set("start", math.random(n))
end

function init(args)
    i = start or 0
end

function request()
    i = i % n + 1
    return wrk.format("GET", nil, { ["X-API-Key"] = keys[i] })
end
