curl -X POST 'https://api.dubrify.com/v1/videos' \
-H 'Authorization: Bearer YOUR_API_KEY' \
-H 'Content-Type: application/json' \
-d '{
"model": "grok-imagine-video",
"prompt": "A cat playing in a sunlit garden with butterflies",
"duration": 6,
"resolution": "720p",
"aspect_ratio": "16:9"
}'
