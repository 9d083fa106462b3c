-- POST /v1/candidates/score with a fixed candidate (not recorded), for wrk.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "bench-key"
wrk.body = '{"member_id":"bench","joined_at":1735689600,"channel":"app","campaign_id":"rc-2408-summer-douyin","device_id":"dev-bench","ip":"10.20.30.40","phone_prefix":"170","phone_hash":"ph-bench"}'
