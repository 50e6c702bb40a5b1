// `fff serve`: loads a model and runs the HTTP server (tools/server) until
// SIGINT or SIGTERM, then drains: accepted requests finish, new ones get
// 503, and the process exits 0. A second signal exits at once (status 1).
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "fff/model.h"
#include "tools/cli/commands.h"
#include "tools/server/server.h"

namespace fff::cli {

Status RunServe(const CommonOptions& o, const ServeOptions& so) {
  // Block the shutdown signals before any thread exists (the model's OpenMP
  // pool, the server's threads inherit the mask): only the sigwait loop
  // below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string dir = o.model_dir.empty() ? kDefaultModelDir : o.model_dir;
  ModelOptions mo;
  mo.n_threads = o.n_threads;
  FFF_ASSIGN_OR_RETURN(Model model, Model::Load(dir, mo));
  server::ServerOptions opt = so.server;
  opt.log = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  FFF_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> srv,
                       server::Server::Create(std::move(model), dir, opt));
  FFF_ASSIGN_OR_RETURN(const int port, srv->Start());
  if (!so.port_file.empty()) {
    // Written beside and renamed, so a reader never sees a partial number.
    const std::string tmp = so.port_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << port << "\n";
      if (!f) {
        srv->Shutdown();
        return NotFoundError(fmt::format("--port-file {}: cannot write", tmp));
      }
    }
    if (std::rename(tmp.c_str(), so.port_file.c_str()) != 0) {
      srv->Shutdown();
      return NotFoundError(fmt::format(
          "--port-file {}: cannot rename into place", so.port_file));
    }
  }

  std::atomic<bool> done{false};
  std::thread drainer;
  std::thread waiter([&] {
    int received = 0;
    while (!done.load()) {
      const timespec tick{0, 100 * 1000 * 1000};
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig < 0) continue;
      if (++received == 1) {
        std::fprintf(stderr,
                     "fff serve: %s: finishing accepted requests, "
                     "refusing new ones (send it again to exit now)\n",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        drainer = std::thread([&] { srv->Shutdown(); });
      } else {
        std::fprintf(stderr, "fff serve: second signal: exiting now\n");
        std::_Exit(1);
      }
    }
  });
  srv->Wait();
  done.store(true);
  waiter.join();
  if (drainer.joinable()) drainer.join();
  return Status::Ok();
}

}  // namespace fff::cli
