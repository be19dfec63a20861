import Foundation
import Testing
import POSIX

@Suite struct EventNotifierTests {
    @Test func wakesAnEpollWaitFromAnotherThreadAndCoalesces() throws {
        let notifier = try EventNotifier()
        let epoll = try Epoll()
        try epoll.add(notifier.descriptor, events: .readable, token: 1)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) {
            notifier.signal()
            notifier.signal()
        }
        let begin = MonotonicClock.milliseconds()
        #expect(try epoll.wait(timeoutMilliseconds: 5000) { _ in } == 1)
        #expect(MonotonicClock.milliseconds() - begin < 4000)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(notifier.drain() == 2)
        #expect(notifier.drain() == 0)
        #expect(try epoll.wait(timeoutMilliseconds: 0) { _ in } == 0)
    }
}
