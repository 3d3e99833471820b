-- POST /upload with a ~1 KiB JSON body. The body file is written by the harness
-- (bench/lib/docroot.mjs) and passed as the first script argument, so wrk and the
-- autocannon fallback send byte-identical bodies.
-- Usage: wrk ... -s post-upload.lua http://127.0.0.1:PORT/upload -- /path/body.json

-- Load the shared counting/reporting hooks from the directory of this script,
-- whatever the current working directory is.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- wrk calls init(args) in each thread before it formats the request,
-- so setting wrk.body here is picked up by every request.
function init(args)
  local f = assert(io.open(args[1], "rb"), "post-upload.lua: body file argument missing")
  wrk.body = f:read("*a")
  f:close()
end
