-- Packages their workspace made public: any workspace of this server may list
-- them and install their published versions. A row exists while the package is
-- public; unpublishing deletes it (installs made meanwhile keep their copies).
CREATE TABLE public_packages (
    package_id   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    published_ms BIGINT NOT NULL
);
