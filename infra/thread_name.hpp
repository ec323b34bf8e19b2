#pragma once
/// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell coachd's threads
/// apart. Linux keeps at most 15 bytes of a name; the rest is cut.

#include <pthread.h>

#include <string>
#include <string_view>

namespace coachd {

inline void name_this_thread(std::string_view name) {
  const std::string kept(name.substr(0, 15));
  pthread_setname_np(pthread_self(), kept.c_str());
}

}  // namespace coachd
