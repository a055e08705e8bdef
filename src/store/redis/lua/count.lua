--[[
  How many requests the store holds now: the MAX_PENDING_TOTAL count, read for
  the pending-requests gauge of /metrics. It closes the buckets whose second is
  over, as a create would.

  ARGV[1] prefix

  Returns the count
]]
local prefix = ARGV[1]

--- @include "time"
--- @include "count"

return closeBuckets(prefix, nowMs())
