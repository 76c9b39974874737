using System.Globalization;
using OpenCvSharp;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Streaming.Hosting.Web;
using Streaming.Testing;
using Xunit.Abstractions;

namespace Streaming.Integration.Tests;

/// <summary>
/// The operator's page in a real browser (Debian's chromium driven through Debian's chromedriver with Selenium) against a
/// real <c>stream run</c> with two cameras and a real Redis, and the drawn picture checked pixel by pixel.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class WebUiTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly RedisServerFixture _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    private StreamProcess StartTwoCameras(params string[] sets) => StreamProcess.Start(
        StreamProcess.Config(StreamProcess.FileCamera("cam-a", maxFps: 8), StreamProcess.FileCamera("cam-b", maxFps: 8)),
        ["Sink:Redis:Configuration=" + _redis.Configuration, "Detect:MaxWaitMs=0", "Http:CameraMediaRoot=" + RepoPaths.Samples, .. sets], output: output);

    [Fact]
    public async Task The_page_shows_two_live_tiles_an_event_with_its_snapshot_and_a_camera_added_from_the_page_as_a_third_tile()
    {
        // The looping dog keeps one track (a track_started per camera in the first seconds, then nothing new): updates
        // every second keep events with snapshots coming, so the feed does not hang on that first burst reaching the page
        // (it once missed it on a loaded CI machine: no event for 60 s).
        await using var run = StartTwoCameras("Track:UpdateIntervalSeconds=1");
        await run.WaitReadyAsync();
        using var browser = Chromium();
        browser.Navigate().GoToUrl($"http://127.0.0.1:{run.HttpPort}/");
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60)) { PollingInterval = TimeSpan.FromMilliseconds(250) };

        // Two tiles whose pictures change over time.
        wait.Until(b => b.FindElements(By.CssSelector("#grid .tile[data-sequence]")).Count == 2);
        var first = Sequences(browser);
        wait.Until(b => Sequences(b) is var now && now.Count == 2 && now.All(kv => kv.Value != first[kv.Key]));
        foreach (var tile in browser.FindElements(By.CssSelector("#grid .tile img.pic")))
        {
            Assert.True(Convert.ToInt64(((IJavaScriptExecutor)browser).ExecuteScript("return arguments[0].naturalWidth", tile), CultureInfo.InvariantCulture) > 0);
        }

        var stats = browser.FindElement(By.CssSelector("#grid .tile .stats")).Text;
        Assert.Matches(@"in \d+(\.\d+)? fps · out \d+(\.\d+)? fps · drops \d+ · p50 [\d.]+ ms · p99 [\d.]+ ms", stats);

        // An event from the pipeline in the feed, with its snapshot loaded from Redis.
        wait.Until(b => true.Equals(((IJavaScriptExecutor)b).ExecuteScript(
            "return [...document.querySelectorAll('#feed li img.thumb')].some(i => i.complete && i.naturalWidth > 0)")));
        var item = browser.FindElement(By.CssSelector("#feed li"));
        Assert.Matches("^(track_started|track_ended|track_updated|zone_entered|zone_exited|line_crossed|counts) · cam-[ab]", item.FindElement(By.CssSelector(".kind")).Text);

        // A camera added from the page becomes a third tile (with a picture).
        var form = browser.FindElement(By.Id("add-form"));
        form.FindElement(By.Name("id")).SendKeys("cam-c");
        form.FindElement(By.Name("url")).SendKeys(RepoPaths.Sample("dog_pan_960p.mp4"));
        form.FindElement(By.Name("maxFps")).SendKeys("5");
        form.FindElement(By.Name("loop")).Click();
        form.FindElement(By.CssSelector("button[type=submit]")).Click();
        wait.Until(b => b.FindElements(By.CssSelector("#grid .tile[data-camera='cam-c'][data-sequence]")).Count == 1);
        Assert.Equal(3, browser.FindElements(By.CssSelector("#grid .tile")).Count);
        Assert.Contains(await run.CamerasAsync(), c => c.Id == "cam-c");

        // Disabling a camera from the page stops it through the camera API (it stays listed, stopped); enabling it
        // from the page starts it again and its picture moves on.
        ClickToggle(browser, "cam-b", "Disable");
        wait.Until(b => b.FindElements(By.CssSelector("#grid .tile[data-camera='cam-b'][data-enabled='false']")).Count == 1);
        var off = await CameraJsonAsync(run, "cam-b");
        Assert.False(off.GetProperty("enabled").GetBoolean());
        Assert.Equal("Stopped", off.GetProperty("state").GetString());
        Assert.Equal("Disabled", browser.FindElement(By.CssSelector("#grid .tile[data-camera='cam-b'] .state")).Text);
        var before = Sequences(browser)["cam-b"];
        ClickToggle(browser, "cam-b", "Enable");
        wait.Until(b => b.FindElements(By.CssSelector("#grid .tile[data-camera='cam-b'][data-enabled='true']")).Count == 1
            && Sequences(b)["cam-b"] != before);
        Assert.Equal("Streaming", (await CameraJsonAsync(run, "cam-b")).GetProperty("state").GetString());

        var shot = Path.Combine(ArtefactDirectory(), "web-ui.png");
        ((ITakesScreenshot)browser).GetScreenshot().SaveAsFile(shot);
        output.WriteLine($"screenshot: {shot}");
        Assert.True(new FileInfo(shot).Length > 10_000);
    }

    [Fact]
    public async Task Adding_a_camera_without_the_control_token_shows_token_required_on_the_page()
    {
        await using var run = StartTwoCameras("Http:ControlToken=tok-" + Guid.NewGuid().ToString("N")[..8]);
        await run.WaitReadyAsync();
        using var browser = Chromium();
        browser.Navigate().GoToUrl($"http://127.0.0.1:{run.HttpPort}/");
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
        wait.Until(b => b.FindElements(By.CssSelector("#grid .tile")).Count == 2);
        var form = browser.FindElement(By.Id("add-form"));
        form.FindElement(By.Name("id")).SendKeys("cam-c");
        form.FindElement(By.Name("url")).SendKeys(RepoPaths.Sample("dog_pan_960p.mp4"));
        form.FindElement(By.CssSelector("button[type=submit]")).Click();
        wait.Until(b => b.FindElement(By.Id("message")).Text.Contains("token required", StringComparison.Ordinal));
        Assert.DoesNotContain(await run.CamerasAsync(), c => c.Id == "cam-c");

        // Disabling needs the token as well.
        ((IJavaScriptExecutor)browser).ExecuteScript("document.getElementById('message').textContent = ''");
        ClickToggle(browser, "cam-a", "Disable");
        wait.Until(b => b.FindElement(By.Id("message")).Text.Contains("token required", StringComparison.Ordinal));
        Assert.True((await CameraJsonAsync(run, "cam-a")).GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Latest_jpg_with_boxes_has_each_track_box_drawn_in_its_colour_where_the_detection_is()
    {
        await using var run = StartTwoCameras();
        await run.WaitReadyAsync();
        var checkedBoxes = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (checkedBoxes == 0 && DateTime.UtcNow < deadline)
        {
            using var response = await run.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/cameras/cam-a/latest.jpg?boxes=1"));
            if (!response.IsSuccessStatusCode)
            {
                await Task.Delay(300);
                continue;
            }

            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            var tracks = response.Headers.GetValues("X-Tracks").Single();
            using var image = Cv2.ImDecode(await response.Content.ReadAsByteArrayAsync(), ImreadModes.Color);
            Assert.False(image.Empty());
            foreach (var track in tracks.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = track.Split(':');
                var box = parts[2].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                var (x1, y1, x2, y2) = (Math.Clamp(box[0], 0, image.Width - 1), Math.Clamp(box[1], 0, image.Height - 1), Math.Clamp(box[2], 0, image.Width - 1), Math.Clamp(box[3], 0, image.Height - 1));
                if (x2 - x1 < 40 || y2 - y1 < 60)
                {
                    continue; // too small to sample beside the label band
                }

                var colour = Overlay.ColourOf(long.Parse(parts[0], CultureInfo.InvariantCulture));

                // The left and right edges of the box, below any label band: most samples carry the track's colour.
                // Boxes overlap, so another track's edge may cover a few samples.
                var samples = Enumerable.Range(0, 20).Select(i => y1 + (y2 - y1) * (30 + i * 3) / 100)
                    .SelectMany(y => new[] { (x1, y), (x2, y) }).ToList();
                var inColour = samples.Count(p => Near(image.At<Vec3b>(p.y, p.Item1), colour));
                Assert.True(inColour >= samples.Count * 0.6, $"track {parts[0]} box {parts[2]}: {inColour} of {samples.Count} edge samples in its colour {colour}");

                // Inside the box, away from its edges, the picture is the camera's, not the box colour.
                var inside = Enumerable.Range(0, 10).Select(i => (x1 + (x2 - x1) * (20 + i * 6) / 100, (y1 + y2) / 2)).Count(p => Near(image.At<Vec3b>(p.Item2, p.Item1), colour));
                Assert.True(inside < 8, $"track {parts[0]}: the inside of its box is filled with its colour");
                checkedBoxes++;
            }
        }

        Assert.True(checkedBoxes > 0, "no track box large enough to check came within 60 s");
        output.WriteLine($"{checkedBoxes} boxes checked");
    }

    private static void ClickToggle(IWebDriver browser, string camera, string label)
    {
        var button = browser.FindElement(By.CssSelector($"#grid .tile[data-camera='{camera}'] button.toggle"));
        Assert.Equal(label, button.Text);
        button.Click();
    }

    /// <summary>The camera as <c>GET /api/cameras/{id}</c> shows it (with <c>enabled</c>).</summary>
    private static async Task<System.Text.Json.JsonElement> CameraJsonAsync(StreamProcess run, string id)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await run.GetStringAsync("/api/cameras/" + id));
        return doc.RootElement.Clone();
    }

    private static bool Near(Vec3b pixel, Scalar colour) =>
        Math.Abs(pixel.Item0 - colour.Val0) + Math.Abs(pixel.Item1 - colour.Val1) + Math.Abs(pixel.Item2 - colour.Val2) < 120;

    private static Dictionary<string, string> Sequences(IWebDriver browser) =>
        browser.FindElements(By.CssSelector("#grid .tile[data-sequence]"))
            .ToDictionary(t => t.GetAttribute("data-camera")!, t => t.GetAttribute("data-sequence")!);

    /// <summary>Debian's chromium, headless, through Debian's chromedriver (versions match; nothing is downloaded).</summary>
    internal static ChromeDriver Chromium()
    {
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1600,1000");
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private static string ArtefactDirectory()
    {
        var dir = Path.Combine(RepoPaths.Root, "TestResults", "artefacts");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
