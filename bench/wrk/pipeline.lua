-- Pipelining: every write carries DEPTH requests for the URL (the first script argument,
-- 16 if absent), so the server reads them in one go. wrk counts each response.
-- Usage: wrk ... -s pipeline.lua http://127.0.0.1:PORT/index.html -- 16

-- Load the shared counting/reporting hooks from the directory of this script,
-- whatever the current working directory is.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "report.lua")

-- wrk calls init(args) in each thread; wrk.format() builds one request from the URL.
function init(args)
  local depth = tonumber(args[1]) or 16
  batch = string.rep(wrk.format(), depth)
end

function request()
  return batch
end
