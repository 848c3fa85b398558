curl -X POST 'https://api.dubrify.com/v1/videos' \
-H 'Authorization: Bearer YOUR_API_KEY' \
-H 'Content-Type: application/json' \
-d '{
"model": "grok-imagine-video",
"prompt": "Camera slowly zooms out, revealing the full scene",
"duration": 6,
"resolution": "720p",
"image": {
"url": "https://example.com/your-image.jpg"
}
}'
