"""The sandbox engine: a provider that renders real, clearly marked PNG and MP4 files in-process.

``SandboxProvider`` is what a gateway with no upstream key runs; the render functions are also what
the mock upstreams and the benchmarks serve as results.

    png = render_image("a red fox", 1024, 1024, seed=7)
    render_video("a red fox", 848, 480, 6.0, Path("fox.mp4"))
"""

from imagine_gateway.providers.sandbox.overlay import SANDBOX_MARK
from imagine_gateway.providers.sandbox.provider import SandboxProvider
from imagine_gateway.providers.sandbox.render import render_image, render_poster, render_video

__all__ = ["SANDBOX_MARK", "SandboxProvider", "render_image", "render_poster", "render_video"]
