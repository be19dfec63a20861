import Testing
@testable import Model

struct WorkspaceTests {
    @Test func sizesGrowWithBatchAndTextLength() {
        let config = TinyConfig.make()
        let small = Workspace.Size.needed(config: config, batch: 1, textLength: 4)
        let large = Workspace.Size.needed(config: config, batch: 4, textLength: 16)
        #expect(small.fits(in: large))
        #expect(!large.fits(in: small))
        #expect(small.union(large) == large)
        // [B, tokens, hidden] for the image output: 4 × 5 × 16.
        #expect(large.imageOut == 4 * 5 * 16)
        #expect(large.fused == 4 * (5 + 16) * 16)
    }

    @Test func reserveKeepsLargerBuffers() {
        let config = TinyConfig.make()
        let ws = Workspace()
        let large = Workspace.Size.needed(config: config, batch: 4, textLength: 16)
        ws.reserve(large)
        let block = ws.mlp
        ws.reserve(.needed(config: config, batch: 1, textLength: 2))
        #expect(ws.mlp === block)  // no reallocation for a smaller batch
        #expect(ws.size == large)
        ws.reserve(.needed(config: config, batch: 8, textLength: 2))
        #expect(ws.mlp !== block)
        #expect(large.fits(in: ws.size))
    }
}
