-- Argo CD resource health for shortlink.dev/ShortLink (see argocd-cm.yaml for where it goes).
-- Reads the Ready condition the operator writes (kstatus conventions):
--   Healthy      Ready=True (Published), or a state the owner chose: Suspended, Scheduled
--                (before activeFrom), Expired (after expiresAt). These stay as they are until
--                someone changes the link, so they must not read as broken.
--   Degraded     Ready=False for any other reason: SlugConflict, PolicyViolation, InvalidSpec,
--                CapacityExceeded, TargetNotFound, TargetUnresolvable. The link is not served
--                and someone has to act.
--   Progressing  no status yet, a status for an older generation, or Ready=Unknown.
local deliberate = {Suspended = true, Scheduled = true, Expired = true}
local hs = {status = "Progressing", message = "Waiting for the shortlink operator to publish the link"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the shortlink operator to see generation " .. tostring(generation)
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    local reason = condition.reason or ""
    local message = condition.message or ""
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = obj.status.shortURL or message
    elseif condition.status == "False" and deliberate[reason] then
      hs.status = "Healthy"
      hs.message = reason .. ": " .. message
    elseif condition.status == "False" then
      hs.status = "Degraded"
      hs.message = reason .. ": " .. message
    else
      hs.message = message
    end
    return hs
  end
end
return hs
