-- wrk script: PUT small documents (about 200 bytes), each to a new id, into collection "small".
-- Token from ATREST_TOKEN. Each wrk thread uses its own id prefix.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", "t" .. threads .. "-")
end

function init(args)
  n = 0
  auth = "Bearer " .. os.getenv("ATREST_TOKEN")
end

function request()
  n = n + 1
  local body = string.format(
    '{"name":"user %d","city":"%s","age":%d,"active":true,"tags":["a","b","c"],' ..
    '"address":{"street":"%d Long Street","zip":"%05d"},"note":"a small document of about two hundred bytes"}',
    n, ({"Oslo", "Lyon", "Porto", "Gent"})[n % 4 + 1], n % 90, n % 1000, n % 100000)
  return wrk.format("PUT", "/v1/collections/small/docs/" .. prefix .. n,
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end
