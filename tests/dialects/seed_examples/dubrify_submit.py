import requests
url = "https://api.dubrify.com/v1/videos"
headers = {
"Authorization": "Bearer YOUR_API_KEY",
"Content-Type": "application/json"
}
payload = {
"model": "grok-imagine-video",
"prompt": "A cat playing in a sunlit garden with butterflies",
"duration": 6,
"resolution": "720p",
"aspect_ratio": "16:9"
}
response = requests.post(url, headers=headers, json=payload)
result = response.json()
request_id = result["request_id"]
print(f"Task submitted, request_id: {request_id}")
