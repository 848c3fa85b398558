def create_grok_video_from_image(prompt, image_url, duration=6, resolution="720p"):
    """使用参考图像生成视频"""
    resp = requests.post(
        f"{BASE_URL}/v1/videos",
        headers=HEADERS,
        json={
            "model": "grok-imagine-video",
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "image": {"url": image_url}
        }
    )
    resp.raise_for_status()
    return resp.json()["request_id"]

# 使用示例
request_id = create_grok_video_from_image(
    prompt="Camera slowly pushes in, the scene comes alive",
    image_url="https://example.com/landscape.jpg",
    duration=8,
    resolution="720p"
)
result = poll_until_done(request_id)
print(f"Video ready: {result['video']['url']}")
