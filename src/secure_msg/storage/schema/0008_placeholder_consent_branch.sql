-- 0008: a placeholder on branch consent for another branch's migration; delete at merge.
SELECT 1;
