-- Makes `key` live at least until `atMs`, never shorter than it already does:
-- a key that serves several requests (a target's list) lives as long as the
-- longest of them, whatever TTL the instance that wrote each one runs with.
local function keepUntilAtLeast (key, atMs)
  if redis.call('PEXPIREAT', key, atMs, 'NX') == 0 then -- no expiry yet (a new key)
    redis.call('PEXPIREAT', key, atMs, 'GT') -- or one that ends sooner
  end
end
