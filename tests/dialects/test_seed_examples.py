"""The example files are the seeds' own code: same tokens, in the same order."""

from __future__ import annotations

import pytest

from tests.dialects.seeds import SEED_EXAMPLES, SEEDS

IMAGE_TO_VIDEO_START = (
    "curl -X POST 'https://api.dubrify.com/v1/videos' \\\n-H 'Authorization: Bearer YOUR_API_KEY' \\\n"
    "-H 'Content-Type: application/json' \\\n"
    '-d \'{\n"model": "grok-imagine-video",\n"prompt": "Camera slowly zooms out'
)
# example file -> (seed file, the text the example starts with in the seed, the text it ends with)
EXAMPLES = {
    "dubrify_create.sh": (
        "004_a6ac72b25d2d72a3.txt",
        "curl -X POST 'https://api.dubrify.com/v1/videos'",
        '"aspect_ratio": "16:9"\n}\'',
    ),
    "dubrify_submit.py.txt": (
        "004_a6ac72b25d2d72a3.txt",
        "import requests\nurl =",
        'print(f"Task submitted, request_id: {request_id}")',
    ),
    "dubrify_image_to_video.sh": (
        "004_a6ac72b25d2d72a3.txt",
        IMAGE_TO_VIDEO_START,
        '"url": "https://example.com/your-image.jpg"\n}\n}\'',
    ),
    "dubrify_status.sh": (
        "004_a6ac72b25d2d72a3.txt",
        "curl -X GET 'https://api.dubrify.com/v1/videos/grok_video_",
        "-H 'Authorization: Bearer YOUR_API_KEY'",
    ),
    "dubrify_example.py.txt": (
        "004_a6ac72b25d2d72a3.txt",
        "import requests\nimport time\nAPI_KEY",
        'print(f"Video ready: {video_url}")',
    ),
    "dubrify_image_example.py.txt": (
        "004_a6ac72b25d2d72a3.txt",
        "def create_grok_video_from_image(",
        "print(f\"Video ready: {result['video']['url']}\")",
    ),
    "grokimagineapi_generate.sh": (
        "002_c792bdf26b097052.txt",
        "curl -X POST https://grokimagineapi.com/v1/generate",
        '"ratio": "1:1"\n}\'',
    ),
    "grokimagineapi_status.sh": (
        "002_c792bdf26b097052.txt",
        'curl -X GET "https://grokimagineapi.com/v1/status',
        '-H "Authorization: Bearer your-api-token"',
    ),
}


def tokens(text: str) -> list[str]:
    return text.split()


def seed_excerpt(seed: str, start: str, end: str) -> str:
    text = (SEEDS / seed).read_text(encoding="utf-8")
    begin = text.index(start)
    return text[begin : text.index(end, begin) + len(end)]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_seed_example_file_has_exactly_the_seed_tokens(name: str) -> None:
    seed, start, end = EXAMPLES[name]
    example = (SEED_EXAMPLES / name).read_text(encoding="utf-8")
    assert tokens(example) == tokens(seed_excerpt(seed, start, end))


def test_seed_003_request_body_is_the_seed_example_byte_for_byte() -> None:
    seed = (SEEDS / "003_786ac3091a6aecb1.txt").read_text(encoding="utf-8")
    body = (SEED_EXAMPLES / "seed003_request.jsonc").read_bytes().decode()
    assert body.replace("\r\n", "\\r\\n").replace('"', '\\"') in seed
