#include "detail/fork_guard.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace ndbridge::detail {

namespace {

// Plain atomics rather than a mutex and condition variable: they are in a
// known state in the child whatever other threads were doing at the fork.
std::atomic<int> active{0};
std::atomic<bool> forking{false};
thread_local int depth = 0;

void wait_a_moment() { std::this_thread::sleep_for(std::chrono::microseconds(50)); }

void before_fork() {
  forking.store(true);
  // A thread that forks while it holds a guard itself would wait for ever;
  // ndbridge never forks, and a caller's fork() runs outside its calls.
  while (active.load() != 0) wait_a_moment();
}

void after_fork() { forking.store(false); }

void register_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(before_fork, after_fork, after_fork); });
}

}  // namespace

ForkGuard::ForkGuard() noexcept {
  register_once();
  if (depth++ > 0) return;
  for (;;) {
    while (forking.load()) wait_a_moment();
    active.fetch_add(1);
    if (!forking.load()) return;
    active.fetch_sub(1);  // a fork began in between: let it go first
  }
}

ForkGuard::~ForkGuard() {
  if (--depth == 0) active.fetch_sub(1);
}

}  // namespace ndbridge::detail
