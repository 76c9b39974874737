using System.Net;
using System.Net.Sockets;

namespace Streaming.Testing;

/// <summary>Loopback TCP ports for test servers.</summary>
public static class FreePort
{
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port nothing listens on right now (the OS picks it) and that this process has not handed out before: servers
    /// started by tests running in parallel (and one a test kills and restarts on its port) never get the same port.
    /// </summary>
    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
