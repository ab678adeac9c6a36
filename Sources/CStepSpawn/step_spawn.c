// Between fork and exec the child of a multithreaded process may only make async-signal-safe
// calls: no allocation, no locks. Everything it needs is prepared by the caller, and it reports
// a failure through a close-on-exec pipe, which reads as empty once the exec succeeded.
#define _GNU_SOURCE
#include "step_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static void report_and_exit(int pipe_fd, int stage, int error) {
    ff_spawn_failure failure = {stage, error};
    ssize_t written;
    do {
        written = write(pipe_fd, &failure, sizeof failure);
    } while (written < 0 && errno == EINTR);
    _exit(127);
}

static void close_from(int lowest, int keep) {
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return;
    struct rlimit limit;
    int highest = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 1048576) {
        highest = (int)limit.rlim_cur;
    }
    for (int fd = lowest; fd < highest; fd++) {
        if (fd != keep) close(fd);
    }
}

static void run_child(const ff_spawn_request *request, int report) {
    // Out of the way of 0..2 first, then into place: a source may itself be 0, 1 or 2.
    int in = fcntl(request->stdin_fd, F_DUPFD, 10);
    int out = fcntl(request->stdout_fd, F_DUPFD, 10);
    int err = fcntl(request->stderr_fd, F_DUPFD, 10);
    int pipe_fd = fcntl(report, F_DUPFD_CLOEXEC, 10);
    if (in < 0 || out < 0 || err < 0 || pipe_fd < 0) report_and_exit(report, FF_STAGE_DESCRIPTORS, errno);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) report_and_exit(pipe_fd, FF_STAGE_DESCRIPTORS, errno);
    // Every descriptor above 2 goes, but the report pipe, which is close-on-exec: move it to 3
    // and close from 4.
    if (dup3(pipe_fd, 3, O_CLOEXEC) < 0) report_and_exit(pipe_fd, FF_STAGE_DESCRIPTORS, errno);
    pipe_fd = 3;
    close_from(4, -1);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction defaults;
    memset(&defaults, 0, sizeof defaults);
    defaults.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &defaults, NULL);

    if (request->new_process_group) setpgid(0, 0);
    if (request->switch_user) {
        if (setgroups((size_t)request->group_count, request->groups) != 0) report_and_exit(pipe_fd, FF_STAGE_GROUPS, errno);
        if (setresgid(request->gid, request->gid, request->gid) != 0) report_and_exit(pipe_fd, FF_STAGE_GID, errno);
        if (setresuid(request->uid, request->uid, request->uid) != 0) report_and_exit(pipe_fd, FF_STAGE_UID, errno);
    }
    // After the switch, so that the step user's own rights decide whether it may enter.
    if (request->directory && chdir(request->directory) != 0) report_and_exit(pipe_fd, FF_STAGE_DIRECTORY, errno);

    int last = ENOENT;
    for (const char *const *path = request->candidates; *path; path++) {
        execve(*path, (char *const *)request->argv, (char *const *)request->envp);
        // Like execvp: a candidate that is missing or not ours to run lets the next one try.
        if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) report_and_exit(pipe_fd, FF_STAGE_EXEC, errno);
        if (errno == EACCES || last == ENOENT) last = errno;
    }
    report_and_exit(pipe_fd, FF_STAGE_EXEC, last);
}

pid_t ff_spawn(const ff_spawn_request *request, ff_spawn_failure *failure) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        failure->stage = FF_STAGE_PIPE;
        failure->error = errno;
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_child(request, report[1]);
    }
    int fork_error = errno;
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        failure->stage = FF_STAGE_FORK;
        failure->error = fork_error;
        return -1;
    }
    ff_spawn_failure reported;
    ssize_t count;
    do {
        count = read(report[0], &reported, sizeof reported);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    if (count == (ssize_t)sizeof reported) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *failure = reported;
        return -1;
    }
    return pid;
}

int ff_make_non_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

int ff_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int ff_pipe_cloexec(int ends[2]) { return pipe2(ends, O_CLOEXEC); }
