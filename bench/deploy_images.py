"""The compose images and stack under podman: build times, image sizes, cold start to healthy.

Builds every image docker-compose.yml and its podman override name (``--no-cache`` rebuilds
the project's images from nothing; otherwise cached layers count), prints each build's
seconds and each image's size, then starts the stack ``--starts`` times from nothing
(``down -v`` first: no container, no volume) and prints the seconds until every container
with a healthcheck passed it (median and spread). Last, ``ratio=<service image / the single
image of 2026-12-06, 1.26 GB>``: the split is judged by it (at most 0.5).

    flock /tmp/cqrsw-bench.lock .venv/bin/python -m bench.deploy_images [--no-cache] [--starts 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from tests.support import podman

SINGLE_IMAGE_BYTES = 1.26e9  # the one image every role ran from, measured 2026-12-06


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.deploy_images")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the project's images")
    parser.add_argument("--starts", type=int, default=1, help="cold starts to time")
    args = parser.parse_args()

    base = podman.build_base()
    print(f"base image (mmdebstrap + import): {'cached' if base is None else f'{base:.0f} s'}")
    for image, seconds in podman.build_standins().items():
        print(f"build {image}: {seconds:.0f} s (layers cached when unchanged)")
    compose = podman.Compose()
    config = compose.config()
    builds = podman.project_builds(config)
    if args.no_cache:
        for image in builds:
            if podman.image_exists(image):
                podman.podman("rmi", "-f", image)
    for image, seconds in podman.build_project_images(config).items():
        print(f"build {image}: {seconds:.0f} s{'' if args.no_cache else ' (cache allowed)'}")
    sizes = {image: podman.image_size(image) for image in builds}
    for image in sorted({*podman.override_images().values(), *builds}):
        size = sizes.get(image) or podman.image_size(image)
        print(f"size {image}: {size / 1e6:.0f} MB")

    wrote_env = podman.write_env_file()
    try:
        services = compose.services()
        starts = []
        for _ in range(args.starts):
            compose.down()
            t0 = time.monotonic()
            compose.up_in_order(services)
            compose.wait_all_healthy(services)
            starts.append(time.monotonic() - t0)
            print(f"cold start to all healthy: {starts[-1]:.0f} s", flush=True)
        compose.down()
    finally:
        if wrote_env:
            podman.ENV_FILE.unlink()
    spread = f", min {min(starts):.0f} s, max {max(starts):.0f} s" if len(starts) > 1 else ""
    print(f"cold start median {statistics.median(starts):.0f} s over {len(starts)}{spread}")
    service_images = [image for image in builds if "service" in image] or list(builds)
    print(f"ratio={min(sizes[i] for i in service_images) / SINGLE_IMAGE_BYTES:.2f}")


if __name__ == "__main__":
    main()
