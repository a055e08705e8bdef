--[[
  The target's pending requests, in creation order.

  KEYS[1] targetKey     {p}t:<target>  zset  the target's pending requests, scored by expiry
  ARGV[1] prefix

  Returns {requestHash, sealedId, layout, requestHash, sealedId, layout, ...}, oldest first
]]
local targetKey = KEYS[1]
local prefix = ARGV[1]

--- @include "time"

redis.call('ZREMRANGEBYSCORE', targetKey, '-inf', nowMs())

local tasks = {}
for position, requestHash in ipairs(redis.call('ZRANGE', targetKey, 0, -1)) do
  local record = redis.call('HMGET', prefix .. 'q:' .. requestHash, 'st', 'id', 'v', 'o')
  if record[1] == 'p' and record[2] then
    tasks[#tasks + 1] = {
      hash = requestHash, sealedId = record[2], layout = record[3] or '1',
      -- Records from before layout versions have no creation order: they are the oldest.
      order = tonumber(record[4] or '0'), position = position
    }
  end
end
table.sort(tasks, function (a, b)
  if a.order ~= b.order then return a.order < b.order end
  return a.position < b.position
end)

local reply = {}
for _, task in ipairs(tasks) do
  reply[#reply + 1] = task.hash
  reply[#reply + 1] = task.sealedId
  reply[#reply + 1] = task.layout
end
return reply
