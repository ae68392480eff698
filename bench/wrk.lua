-- wrk.lua -- sets the method, Accept and Authorization from the environment
-- and prints the result as one JSON line (bench/run.sh reads it).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local accept = os.getenv("WRK_ACCEPT")
if accept and accept ~= "" then
	wrk.headers["Accept"] = accept
end
-- WRK_AUTH: an Authorization header (a Bearer token, Basic credentials).
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
	wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,' ..
	    '"bytes":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
	    '"err_connect":%d,"err_read":%d,"err_write":%d,' ..
	    '"err_status":%d,"err_timeout":%d}\n',
	    summary.requests, summary.duration, summary.bytes,
	    latency:percentile(50), latency:percentile(99), latency.mean,
	    e.connect, e.read, e.write, e.status, e.timeout))
end
