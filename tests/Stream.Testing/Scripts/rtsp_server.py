#!/usr/bin/python3
"""A small GStreamer RTSP server for the tests: serves an H.264 MP4 file, paced at its frame rate like a live
camera, on several mount points (/cam1, /cam2, ...) of one TCP port. The test fixture makes the file long enough
for the whole test run by stream-copying a short clip many times (no re-encode), so timestamps stay monotonic.

usage: rtsp_server.py PORT FILE.mp4 [MOUNTS] [PROTOCOLS] [USER:PASSWORD]
PROTOCOLS: "all" (default), "udp" (RTP over UDP only: a TCP SETUP is answered 461 Unsupported transport, as VLC's
server does) or "tcp" (RTP interleaved over the RTSP connection only).
USER:PASSWORD: the mounts need these credentials (HTTP basic authentication, as most IP cameras ask for); a client
without them, or with others, is answered 401 Unauthorized.
Prints "READY <port>" on stdout once it listens; runs until killed (SIGTERM/SIGKILL)."""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    port = int(sys.argv[1])
    path = sys.argv[2]
    mounts = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    protocols = sys.argv[4] if len(sys.argv) > 4 else "all"
    credentials = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    lower = {
        "all": GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.UDP_MCAST | GstRtsp.RTSPLowerTrans.TCP,
        "udp": GstRtsp.RTSPLowerTrans.UDP,
        "tcp": GstRtsp.RTSPLowerTrans.TCP,
    }[protocols]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    permissions = None
    if credentials is not None:
        user, _, password = credentials.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("viewer", "media.factory.access", True)
        permissions.add_permission_for_role("viewer", "media.factory.construct", True)
    for i in range(1, mounts + 1):
        factory = GstRtspServer.RTSPMediaFactory()
        # Shared: every client of a mount sees one stream; the server's sinks pace it at the file's rate.
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 '
            f"! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(True)
        factory.set_protocols(lower)
        if permissions is not None:
            factory.set_permissions(permissions)
        server.get_mount_points().add_factory(f"/cam{i}", factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{port}", flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY {port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
