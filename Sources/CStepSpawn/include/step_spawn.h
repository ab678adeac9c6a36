#ifndef FLOWFORGE_STEP_SPAWN_H
#define FLOWFORGE_STEP_SPAWN_H

#include <sys/types.h>

/// What `ff_spawn` starts. Every pointer must stay valid for the call; nothing is kept.
typedef struct {
    /// Paths to try in order (argv[0] resolved against PATH by the caller); NULL-terminated.
    const char *const *candidates;
    /// The argument vector, NULL-terminated.
    const char *const *argv;
    /// The whole environment, NULL-terminated.
    const char *const *envp;
    /// The working directory, or NULL to keep the caller's.
    const char *directory;
    /// Descriptors that become the child's 0, 1 and 2 (they may be the same).
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Lead a new process group, so that signalling -pid reaches everything the child starts.
    int new_process_group;
    /// Switch to this user before exec: supplementary groups, then gid, then uid (all three ids).
    int switch_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
} ff_spawn_request;

/// Why a spawn failed: the step that failed and its errno.
typedef struct {
    int stage;
    int error;
} ff_spawn_failure;

enum {
    FF_STAGE_PIPE = 1,
    FF_STAGE_FORK = 2,
    FF_STAGE_DESCRIPTORS = 3,
    FF_STAGE_GROUPS = 4,
    FF_STAGE_GID = 5,
    FF_STAGE_UID = 6,
    FF_STAGE_DIRECTORY = 7,
    FF_STAGE_EXEC = 8,
};

/// Starts a child with nothing of the caller's but what the request names: descriptors 0, 1
/// and 2 only (every other one is closed, whether or not it was close-on-exec), default signal
/// handling and an empty signal mask, the given environment, and optionally another user.
/// Returns the child's pid, or -1 with `failure` filled in (the child, if any, has exited).
pid_t ff_spawn(const ff_spawn_request *request, ff_spawn_failure *failure);

/// Makes this process non-dumpable: its /proc files (environ, fd, mem) become root's, and no
/// process of the same user can read them or attach to it. Returns 0 or -1 with errno.
int ff_make_non_dumpable(void);

/// A pipe whose both ends are close-on-exec; 0 or -1 with errno.
int ff_pipe_cloexec(int ends[2]);

/// Opens a descriptor that becomes readable when `pid` exits (Linux 5.3+), or -1.
int ff_pidfd_open(pid_t pid);

#endif
