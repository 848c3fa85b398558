import requests
import time

API_KEY = "YOUR_API_KEY"
BASE_URL = "https://api.dubrify.com"

HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Content-Type": "application/json"
}


def create_grok_video(prompt, duration=6, resolution="720p", aspect_ratio="16:9"):
    """提交 Grok 视频生成任务"""
    resp = requests.post(
        f"{BASE_URL}/v1/videos",
        headers=HEADERS,
        json={
            "model": "grok-imagine-video",
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
        }
    )
    resp.raise_for_status()
    request_id = resp.json()["request_id"]
    print(f"Task submitted: {request_id}")
    return request_id


def poll_until_done(request_id, interval=8, timeout=300):
    """轮询任务状态直到完成"""
    elapsed = 0
    while elapsed < timeout:
        resp = requests.get(
            f"{BASE_URL}/v1/videos/{request_id}",
            headers=HEADERS
        )
        resp.raise_for_status()
        data = resp.json()

        # 生成完成:无 status 字段,有 video 字段
        if "video" in data:
            return data

        status = data.get("status", "unknown")
        print(f" Status: {status} ({elapsed}s elapsed)")
        time.sleep(interval)
        elapsed += interval

    raise TimeoutError(f"Video generation timed out after {timeout}s")


if __name__ == "__main__":
    request_id = create_grok_video(
        prompt="A golden retriever running through autumn leaves in slow motion",
        duration=6,
        resolution="720p"
    )
    result = poll_until_done(request_id)
    video_url = result["video"]["url"]
    print(f"Video ready: {video_url}")
