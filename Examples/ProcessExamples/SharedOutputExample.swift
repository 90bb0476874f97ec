import Foundation
import ParallelKit

/// Renders rows `rows` of a Mandelbrot image into a shared pixel array.
struct RenderRowsJob: ParallelJob {
    var pixels: SharedArray<UInt8>
    var width: Int
    var height: Int
    var rows: Range<Int>

    func run() async throws -> Int32 {
        for row in rows {
            for column in 0..<width {
                let c = (x: Double(column) / Double(width) * 3.0 - 2.1, y: Double(row) / Double(height) * 2.4 - 1.2)
                var z = (x: 0.0, y: 0.0)
                var iterations: UInt8 = 0
                while iterations < 60 && z.x * z.x + z.y * z.y < 4 {
                    z = (z.x * z.x - z.y * z.y + c.x, 2 * z.x * z.y + c.y)
                    iterations += 1
                }
                // The write goes straight to the caller's memory: mmapMode .rPlus.
                pixels[row * width + column] = iterations
            }
        }
        return getpid()
    }
}

/// joblib's "workers write to a shared numpy memmap": the caller allocates one `SharedArray`, each
/// job writes its own rows, nothing is copied back, and the caller reads the result in place.
@Sendable func sharedOutputExample() async throws {
    let (width, height) = (64, 24)
    let pixels = try SharedArray(repeating: UInt8(0), count: width * height)
    let jobs = stride(from: 0, to: height, by: 4).map {
        RenderRowsJob(pixels: pixels, width: width, height: height, rows: $0..<min($0 + 4, height))
    }
    let workers = try await Parallel(nJobs: 2, backend: "process", batchSize: 1, mmapMode: .rPlus)(jobs)
    let shades = Array(" .:-=+*#%@")
    for row in 0..<height {
        let line = (0..<width).map { column -> Character in
            let value = Int(pixels[row * width + column])
            return value >= 60 ? "@" : shades[value * (shades.count - 1) / 60]
        }
        print(String(line))
    }
    let pids = Set(workers).sorted()
    print(
        "\(jobs.count) jobs rendered by \(pids.count == 1 ? "worker process" : "worker processes") \(pids) into one shared array of \(pixels.count) bytes"
    )
}
