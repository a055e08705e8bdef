-- The time on the Redis host in ms. Every instance agrees on it, whatever its
-- own clock says; expiry (PEXPIREAT) runs on the same clock.
local function nowMs ()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
