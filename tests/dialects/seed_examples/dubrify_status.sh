curl -X GET 'https://api.dubrify.com/v1/videos/grok_video_xxxxxxxxxxxxx' \
-H 'Authorization: Bearer YOUR_API_KEY'
