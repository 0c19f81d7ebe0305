-- wrk script: GET random documents of collection "small" (ids g0 .. g(ATREST_DOCS-1), loaded before).
function init(args)
  auth = "Bearer " .. os.getenv("ATREST_TOKEN")
  docs = tonumber(os.getenv("ATREST_DOCS"))
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("GET", "/v1/collections/small/docs/g" .. math.random(0, docs - 1), {["Authorization"] = auth})
end
