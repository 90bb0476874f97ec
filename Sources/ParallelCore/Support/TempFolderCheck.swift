import Glibc

// The rules a temp folder must meet, for every backend: the process backends
// put shared arrays there, and the others check a folder the user named too, so a bad one is
// never silently ignored (issue 7). Checked through a descriptor, never by path twice.

/// Checks (and, when missing, creates) a temp folder.
package enum TempFolderCheck {
    /// Checks `folder` when a call starts: a missing folder is created (`mkdir -p`, new parts
    /// 0700, as joblib does); a file, an unwritable folder, or one others may write without the
    /// sticky bit is a `ParallelError(.invalidArgument)` naming it.
    /// - Complexity: a few system calls.
    package static func check(_ folder: String) throws {
        Glibc.close(try openSafe(folder))
    }

    /// Opens `folder` as a directory (creating it, as joblib does, when it is missing) and checks
    /// that nobody else can rename entries in it.
    package static func openSafe(_ folder: String) throws -> Int32 {
        var fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            try createFolder(folder)
            fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard fd >= 0 else {
            let code = errno
            if code == ENOTDIR { throw unusable(folder, "it is not a folder") }
            throw unusable(folder, "opening it failed: \(text(code))")
        }
        do {
            try checkSafe(fd, folder)
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Refuses a folder whose entries another user could rename (and so swap for symlinks).
    package static func checkSafe(_ fd: Int32, _ folder: String) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw unusable(folder, "fstat failed: \(text(errno))") }
        let owner = info.st_uid
        guard owner == geteuid() || owner == 0 else {
            throw unusable(
                folder,
                "it belongs to another user (uid \(owner)), who could rename or replace the files ParallelKit puts there"
            )
        }
        let othersMayWrite = info.st_mode & (S_IWGRP | S_IWOTH) != 0
        let sticky = info.st_mode & S_ISVTX != 0
        if othersMayWrite && !sticky {
            throw unusable(
                folder,
                "it is writable by other users and has no sticky bit (mode \(String(info.st_mode & 0o7777, radix: 8))), "
                    + "so they could swap ParallelKit's files for links to yours. Use a folder only you can write, or set "
                    + "the sticky bit (chmod +t) as /tmp has")
        }
        guard faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) == 0 else {
            throw unusable(folder, "this process may not create files in it (\(text(errno)))")
        }
    }

    /// `mkdir -p`, new components private to the user.
    private static func createFolder(_ folder: String) throws {
        var prefix = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw unusable(folder, "it does not exist and creating \(prefix) failed: \(text(errno))")
            }
        }
    }

    /// The error for a folder that cannot be used, with the reason.
    package static func unusable(_ folder: String, _ reason: String) -> ParallelError {
        ParallelError.invalid(
            "temp folder", "'\(EchoedText.shortened(folder))' cannot hold shared arrays: \(reason)",
            fix: "Pass another tempFolder (or JOBLIB_TEMP_FOLDER), or none to use anonymous shared memory.")
    }

    package static func text(_ code: Int32) -> String { "\(String(cString: strerror(code))) (errno \(code))" }
}
